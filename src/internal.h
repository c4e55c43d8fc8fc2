/*
 * internal.h: what the modules of cask share and users never see. Allocation hook, fatal
 * misuse, the context switch and stacks, timers, the one suspension primitive (waiters and
 * wait queues), the loop and the task structures.
 */
#ifndef CASK_INTERNAL_H
#define CASK_INTERNAL_H

#include "cask.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#define CASK__LIKELY(x) __builtin_expect(!!(x), 1)
#define CASK__UNLIKELY(x) __builtin_expect(!!(x), 0)

#if defined(__SANITIZE_ADDRESS__)
#define CASK__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CASK__ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CASK__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CASK__TSAN 1
#endif
#endif

/* ---- allocation (core/alloc.c) ---- */
void *cask__malloc(size_t n);
void *cask__calloc(size_t n, size_t size);
void *cask__realloc(void *p, size_t n);
void cask__free(void *p);

/* ---- fatal misuse (core/error.c): prints file:line and the message, aborts ---- */
__attribute__((noreturn, format(printf, 3, 4))) void cask__fatal(const char *file, int line,
                                                                 const char *fmt, ...);
#define CASK__FATAL(...) cask__fatal(__FILE__, __LINE__, __VA_ARGS__)
#define CASK__CHECK(cond, ...)                                                                     \
    do {                                                                                           \
        if (CASK__UNLIKELY(!(cond)))                                                               \
            cask__fatal(__FILE__, __LINE__, __VA_ARGS__);                                          \
    } while (0)

/* ---- context switch (ctx/ctx.c and the per-architecture .S) ---- */
struct cask__ctx {
    void *sp;       /* saved stack pointer while switched out */
    void *stack_lo; /* lowest usable address (for the sanitizers); NULL for a thread stack */
    size_t stack_size;
    void *asan_fake;  /* ASan fake-stack handle while switched out */
    void *tsan_fiber; /* TSan fiber of this context */
};
/* Prepares c to start running entry(arg) on the stack [lo, lo+size) at its first switch. */
void cask__ctx_make(struct cask__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg);
/* Fills c for the running thread's own stack (the loop's scheduler context). */
void cask__ctx_thread(struct cask__ctx *c);
/* Saves the running context in from and resumes to. last: from will never run again. */
void cask__ctx_swap(void **save_sp, void *new_sp);
#if CASK__ASAN || CASK__TSAN
void cask__ctx_switch(struct cask__ctx *from, struct cask__ctx *to, int last);
#else
static inline void cask__ctx_switch(struct cask__ctx *from, struct cask__ctx *to, int last)
{
    (void)last;
    cask__ctx_swap(&from->sp, to->sp);
}
#endif
/* Called first thing on a new context, to finish the sanitizer hand-over. */
void cask__ctx_entered(void);
/* Frees sanitizer state of a context that ended. */
void cask__ctx_destroy(struct cask__ctx *c);

/* ---- stacks (ctx/stack.c) ---- */
struct cask__stack_pool;
/* A slot: [lo - guard, lo) guard, [lo, hi) usable stack; hi is where the task struct goes. */
struct cask__stack {
    char *lo;
    char *hi;
};
/* gap: guard bytes below each slot (0: none), from cask__stack_gap. */
int cask__stack_pool_new(struct cask__stack_pool **out, size_t size, size_t gap);
void cask__stack_pool_free(struct cask__stack_pool *p);
int cask__stack_get(struct cask__stack_pool *p, struct cask__stack *s);
void cask__stack_put(struct cask__stack_pool *p, const struct cask__stack *s);
/* Gives back to the kernel the pages of free slots beyond the keep warmest that nobody took
 * since the previous trim; returns how many slots it gave back. */
size_t cask__stack_pool_trim(struct cask__stack_pool *p, size_t keep);
bool cask__stack_pool_trimmable(const struct cask__stack_pool *p, size_t keep);
size_t cask__stack_pool_size(const struct cask__stack_pool *p);
size_t cask__stack_pool_mapped(const struct cask__stack_pool *p);
size_t cask__stack_pool_free_count(const struct cask__stack_pool *p);
size_t cask__stack_pool_resident_free(const struct cask__stack_pool *p);
size_t cask__stack_pool_trimmed(const struct cask__stack_pool *p);
/* The guard gap for a requested size (0: the default, CASK__STACK_GAP_DEFAULT). */
#define CASK__STACK_GAP_DEFAULT (256u * 1024)
#define CASK__STACK_GAP_MAX (64u << 20)
size_t cask__stack_gap(size_t asked);
int cask__stack_guard_mode(void);
/* Installs the SIGSEGV handler on an alternate stack for this thread (idempotent). */
void cask__stack_install_overflow_handler(void);

/* ---- timers (core/timer.c): a 4-ary min-heap keyed by (when, seq) ----
 * The heap's entries carry their own keys and a slot number; the slot tables map a slot to
 * its timer and to its position in the heap. Sifting reads and writes only these arrays: never
 * the timers, which live on (or beside) sleeping tasks' stacks, one page each. */
struct cask__timer {
    uint64_t when; /* ns on the loop clock */
    uint64_t seq;  /* ties fire in the order they were set */
    void (*fire)(struct cask__timer *t);
    uint32_t index; /* the timer's heap slot + 1; 0 when not armed */
    uint32_t spare;
};
struct cask__heap_entry {
    uint64_t when;
    uint64_t seq;
    uint32_t slot;
};
struct cask__heap {
    struct cask__heap_entry *v; /* one allocation with tm and pos, each cap long */
    uint32_t n, cap;
    struct cask__timer **tm; /* slot -> timer */
    uint32_t *pos;           /* slot -> position in v; a free slot's: the next free slot + 1 */
    uint32_t slots, free_slot; /* slots ever used; the first free slot + 1, 0 if none */
};
int cask__heap_push(struct cask__heap *h, struct cask__timer *t);
void cask__heap_remove(struct cask__heap *h, struct cask__timer *t);
struct cask__timer *cask__heap_pop(struct cask__heap *h);
static inline struct cask__timer *cask__heap_top(const struct cask__heap *h)
{
    return h->n ? h->tm[h->v[0].slot] : NULL;
}
void cask__heap_free(struct cask__heap *h);
_Static_assert(sizeof(struct cask__timer) <= sizeof(((cask_scope *)0)->timer_),
               "cask_scope timer storage too small");

/* ---- the runnable queue: tasks and callbacks in one FIFO ---- */
enum { CASK__RUN_TASK = 1, CASK__RUN_HANDLE = 2 };
struct cask__runnable {
    struct cask__runnable *next;
    uint8_t kind;
};

/* ---- waiters: the single suspension primitive (core/wait.c) ---- */
struct cask__waiter;
struct cask__wq {
    struct cask__waiter *head, *tail;
};
struct cask__waiter {
    struct cask__waiter *next, *prev;
    struct cask__wq *wq; /* the queue this waiter is linked in, or NULL */
    cask_task *task;
    /* Called when the parked task is cancelled (or a scope around it expires), after the
     * waiter was unlinked from wq. Returns true to wake the task with -ECANCELED, false to
     * keep it parked (the hook arranged something else, e.g. cancelled a child). NULL: wake. */
    bool (*on_cancel)(struct cask__waiter *w);
    /* Called instead of waking w->task when the object signals this waiter (multi-waits:
     * gather, groups, wait). NULL: wake w->task with the status. */
    void (*notify)(struct cask__waiter *w, int status);
    const char *what; /* what it waits for, for diagnostics ("sleep", "lock", ...) */
    const void *obj;  /* the object waited on */
    void *data;       /* payload, owner-defined */
    intptr_t value;   /* payload, owner-defined */
};

static inline void cask__waiter_init(struct cask__waiter *w, const char *what, const void *obj)
{
    memset(w, 0, sizeof *w);
    w->what = what;
    w->obj = obj;
}
static inline void cask__wq_push(struct cask__wq *q, struct cask__waiter *w)
{
    w->wq = q;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}
static inline void cask__wq_remove(struct cask__waiter *w)
{
    struct cask__wq *q = w->wq;
    if (!q)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
    w->wq = NULL;
}
static inline struct cask__waiter *cask__wq_pop(struct cask__wq *q)
{
    struct cask__waiter *w = q->head;
    if (w)
        cask__wq_remove(w);
    return w;
}
static inline bool cask__wq_empty(const struct cask__wq *q) { return q->head == NULL; }

/*
 * Parks the running task on w until something wakes it; returns the wake status. If the task
 * is cancelled at the time of the call, returns -ECANCELED at once (unlinking w from its
 * queue). w must have been linked into its object's queue (or timer armed) by the caller.
 * Returns -EPERM when not called from a task.
 */
int cask__park(struct cask__waiter *w);
/* Signals w: calls its notify hook, or makes its task ready with status. Unlinks it first. */
void cask__signal(struct cask__waiter *w, int status);
/* Makes a parked task ready; its cask__park returns status. */
void cask__wake(cask_task *t, int status);
/* True if blocking calls of t must return -ECANCELED now (task cancel or expired scope). */
bool cask__cancelled_slow(const cask_task *t);
#define cask__cancelled(t) ((t)->scope ? cask__cancelled_slow(t) : (t)->ncancel > 0)
/* Returns -ECANCELED for a blocking call of t that finds t cancelled (records delivery). */
int cask__cancel_now(cask_task *t);
/* Delivers cancellation to t if it is parked and now cancelled. */
void cask__interrupt(cask_task *t);

/* ---- the loop (core/loop.c) ---- */
struct cask__fd {
    struct cask__waiter *rd, *wr;
    uint8_t registered;
    uint8_t ready; /* CASK_READABLE/WRITABLE edges seen and not yet consumed */
    uint8_t memfile; /* opened by cask_file_open on tmpfs/ramfs: reads and writes run inline */
};
struct cask__poll;

struct cask_loop {
    struct cask__runnable *ready_head, *ready_tail;
    struct cask__runnable *snap_head; /* what is left of this iteration's snapshot */
    cask_task *current;
    struct cask__ctx sched;
    cask_task *dead; /* a task that just ended, freed once switched away from */
    struct cask__heap timers;
    uint64_t timer_seq;
    uint64_t now;  /* ns: cached at each iteration */
    uint64_t vnow; /* virtual clock */
    bool virtual_clock;
    bool eager;
    bool closing;
    uint64_t iterations, switches;
    uint64_t next_task_id;
    size_t tasks_live;
    cask_task *all_head, *all_tail; /* live tasks, oldest first */
    cask_task *zombie_head;         /* ended tasks whose handle is still held */
    cask_task *task_free;           /* free task structs, linked through run.next */
    void *task_slabs;
    struct cask_future *futures;    /* live futures, for the report at close */
    void *handle_slabs;
    size_t stack_size;
    size_t stack_gap; /* guard bytes below each stack, 0: none */
    struct cask__stack_pool *pools[4];
    /* memory after a peak (loop.c trims when idle; task.c, ctx/stack.c give back) */
    size_t idle_kept;    /* free stacks and task structs kept resident */
    uint64_t trim_after; /* ns; CASK__NEVER: never trim */
    uint64_t trim_at;    /* real-clock ns of the next trim */
    size_t task_slots;   /* task structs in slabs */
    size_t task_trim_seen; /* free structs at the last walk that found no empty slab */
    struct cask__poll *poll;
    struct cask__fd *fds;
    int nfds_cap;
    int nwatch; /* fds with a parked waiter, and file operations in flight on the ring */
    cask_handle *handle_free;
    int wake_fd; /* eventfd for call_soon_threadsafe and signals */
    void *ts_mutex;
    struct cask__runnable *ts_head, *ts_tail;
    int ts_pending; /* set (atomically) by other threads and signals: poll at the boundary */
    cask_task *main_task;
    /* slots for higher layers (thread pool, resolver) to hang state on the loop; the
     * ext_close hooks run at loop close, after every task ended (CASK__EXT_* name them) */
    void *ext[4];
    void (*ext_close[4])(cask_loop *l, void *p);
    /* signals (io/signal.c): this loop's slot in the process-wide dispatcher, or NULL */
    void *sig;
    /* diagnostics (debug/): their state when cask_run's config turned any on, else NULL;
     * the return address of the spawn call in progress; callbacks run and "blocked in the
     * poller" (both read by the stall watchdog thread, relaxed atomics); to_thread jobs out */
    struct cask__diag *diag;
    void *spawn_site;
    uint64_t callbacks;
    int in_poll;
    uint32_t jobs_out;
    /* the trace timeline (debug/trace.c): the ring being recorded into (NULL: not recording;
     * the hot paths test only this), and the last recording, kept for cask_trace_write */
    struct cask__trace *trace;
    struct cask__trace *trace_buf;
    /* metrics (cask_loop_stats, cask_metrics_write): times blocked in the poller and for how
     * long (ns), bytes moved by the stream, socket and file calls */
    uint64_t polls, poll_ns;
    uint64_t bytes_read, bytes_written;
    /* compact tasks (core/compact.c): every spawn compact; the debug mode (each compact task
     * on a stack of its own, protected while it is parked); the shared run stack (its pool; lo
     * NULL until the first compact task runs); the task whose image is on it (debug mode: the
     * compact task switched in last); the size a new task's save buffer starts with; bytes
     * copied in and out */
    bool compact_all;
    bool compact_debug;
    struct cask__stack_pool *run_pool;
    struct cask__stack run;
    cask_task *run_owner;
    uint32_t cx_guess;
    uint64_t cx_copied;
    size_t cx_bytes; /* bytes held by compact tasks' homes and save buffers */
};

/* loop->ext[] slots: 0 the thread pool (pool/thread.c), 1 the listening sockets' multishot
 * accepts (io/net_ring.c), 2 child processes (io/proc.c), 3 the process pools (pool/process.c) */
enum { CASK__EXT_ACCEPT = 1, CASK__EXT_PROC = 2, CASK__EXT_PROCPOOL = 3 };

extern __thread cask_loop *cask__loop;

uint64_t cask__clock_ns(void);
/* A cheap monotonic counter in the machine's unit (ctx/ticks.c): calibrate against
 * cask__clock_ns over the interval measured. */
uint64_t cask__ticks(void);
/* Metrics: counts the bytes a read (write) call of the loop's thread moved; returns r. */
static inline ssize_t cask__count_read(ssize_t r)
{
    if (r > 0 && cask__loop)
        cask__loop->bytes_read += (uint64_t)r;
    return r;
}
static inline ssize_t cask__count_written(ssize_t r)
{
    if (r > 0 && cask__loop)
        cask__loop->bytes_written += (uint64_t)r;
    return r;
}
static inline uint64_t cask__loop_now(cask_loop *l)
{
    return l->virtual_clock ? l->vnow : cask__clock_ns();
}
uint64_t cask__seconds_to_ns(double s); /* saturating; s <= 0 gives 0 */
uint64_t cask__deadline_ns(cask_loop *l, double seconds);
uint64_t cask__abs_to_ns(double when);
static inline double cask__ns_to_seconds(uint64_t ns) { return (double)ns / 1e9; }
#define CASK__NEVER UINT64_MAX

static inline void cask__ready_push(cask_loop *l, struct cask__runnable *r)
{
    r->next = NULL;
    if (l->ready_tail)
        l->ready_tail->next = r;
    else
        l->ready_head = r;
    l->ready_tail = r;
}
/* Arms a timer at when (ns); returns 0 or -ENOMEM. */
int cask__timer_arm(cask_loop *l, struct cask__timer *t, uint64_t when,
                    void (*fire)(struct cask__timer *));
void cask__timer_disarm(cask_loop *l, struct cask__timer *t);

/* ---- tasks (core/task.c) ---- */
enum {
    CASK__T_NEW = 0,
    CASK__T_READY,
    CASK__T_RUNNING,
    CASK__T_PARKED,
    CASK__T_DONE,
};
enum {
    CASK__TF_HANDLE = 1,    /* a user handle is outstanding */
    CASK__TF_RETRIEVED = 2, /* someone read the status */
    CASK__TF_DELIVERED = 4, /* a cancellation was delivered as -ECANCELED */
    CASK__TF_CANCELLED = 8, /* ended cancelled */
    CASK__TF_COMPACT = 16,  /* runs on the loop's shared run stack (core/compact.c) */
};
struct cask_task {
    struct cask__runnable run; /* ready-queue link: keep first */
    uint8_t state;
    uint8_t flags;
    uint8_t pool_index; /* stack pool it came from, 0xff: own mapping */
    uint8_t spare;
    int32_t ncancel;
    int wake;   /* status handed over by cask__wake */
    int status; /* final status once DONE */
    struct cask__ctx ctx;
    struct cask__ctx *back; /* context to return to on park (eager start), else scheduler */
    cask_loop *loop;
    cask_fn fn;
    void *arg;
    struct cask__waiter *waiter; /* where it is parked */
    cask_scope *scope;           /* innermost open scope */
    struct cask__wq joiners;
    cask_task *all_prev, *all_next;
    struct cask__stack stack;
    uint64_t id;
    void *group;                   /* owned by core/group.c */
    void (*on_done)(cask_task *t); /* called when the task ends, before joiners wake */
    cask_task *group_next, *group_prev;
    /* diagnostics (debug/): the spawn call's return address, the spawning task's id (0: none),
     * when it parked (ns; set only while diagnostics are on) */
    void *spawn_site;
    uint64_t parent_id;
    uint64_t park_ns;
    struct cask__cx *cx; /* compact tasks: home and saved stack image, from the first run */
    char name[32];
    void *slab; /* the slab this struct lives in (task.c); not cleared by spawn */
};

/*
 * Compact tasks (core/compact.c). Each has one side block: its home, where every blocking
 * call keeps the records other parties point to while the task is parked (waiters, timer
 * nodes, per-call state), and its stack image while another compact task uses the run stack.
 * A task is in at most one blocking call at a time, so one home suffices.
 */
#define CASK__HOME_BYTES 112
struct cask__cx {
    char *big;       /* image that outgrew the inline buffer (malloc), or NULL */
    uint32_t len;    /* bytes of image saved; 0: none (on the run stack, or never ran) */
    uint32_t cap;    /* inline image bytes */
    uint32_t bigcap; /* bytes of big */
    uint8_t fresh;   /* has not run yet: its first frame is made when it gets the run stack */
    uint8_t prot;    /* debug mode: its own stack is protected (it is parked) */
    uint8_t pad[2];
    _Alignas(8) unsigned char home[CASK__HOME_BYTES]; /* (records need pointer alignment) */
    unsigned char img[]; /* cap bytes */
};
/* The home of t: for a compact task in its side block, for an ordinary task the top
 * CASK__HOME_BYTES of its own stack (its first page, touched anyway; its frames start below). */
static inline void *cask__home(cask_task *t)
{
    return t->cx ? (void *)t->cx->home : (void *)(t->stack.hi - CASK__HOME_BYTES);
}
/* Storage for the record of type T of the blocking call the task self is in: its home (the
 * size is checked at compile time). Every blocking call keeps there what others point to
 * while it is parked; one call at a time, so a record is dead once its call returns. */
#define CASK__REC(self, T)                                                                         \
    ((T *)((void)sizeof(char[sizeof(T) <= CASK__HOME_BYTES ? 1 : -1]), cask__home(self)))
/* True if t is a compact task and p lies on its stack (the run stack; in debug mode its own). */
static inline bool cask__on_own_stack(const cask_task *t, const void *p)
{
    return t && t->cx && (const char *)p >= t->stack.lo && (const char *)p < t->stack.hi;
}
/* Gives compact task t (started) its first run: allocates its side block; -ENOMEM. */
int cask__compact_start(cask_loop *l, cask_task *t);
/* Called from a context that is not on the run stack, before switching into compact task t:
 * saves the image of the run stack's owner (if another task) and puts t's in place. */
void cask__compact_in(cask_loop *l, cask_task *t);
/* The scheduler regained the CPU from a task: in debug mode, saves and protects the run
 * stack so that any use of a pointer into it faults and is named. */
void cask__compact_out(cask_loop *l);
/* A compact task ended: frees its side block. */
void cask__compact_end(cask_loop *l, cask_task *t);
/* The run stack and the images at loop close. */
void cask__compact_close(cask_loop *l);
/* cask_spawn's entry point for a new context (core/task.c). */
void cask__task_main(void *p);
/* The frames of parked compact task t (its image may be in its save buffer). */
int cask__compact_frames(const cask_task *t, void **pcs, int max);
/* On a fault at addr in a parked compact task's protected stack (debug mode): writes the
 * report naming both tasks (signal-safe enough for a report before abort). */
bool cask__compact_fault(const void *addr);
/* The context an eagerly started task returns to at its first suspension (clearing t->back),
 * with the run stack made ready if it is a compact task's (t itself is then ordinary). */
static inline struct cask__ctx *cask__take_back(cask_loop *l, cask_task *t)
{
    struct cask__ctx *b = t->back;
    t->back = NULL;
    if (b != &l->sched) {
        cask_task *o = (cask_task *)((char *)b - offsetof(cask_task, ctx));
        if (o->flags & CASK__TF_COMPACT)
            cask__compact_in(l, o);
    }
    return b;
}

/* "new", "ready", "running", "waiting" or "done" (task listings and the task tree). */
const char *cask__task_state_name(const cask_task *t);
/* The running task, or NULL (outside tasks, in callbacks). */
static inline cask_task *cask__self(void) { return cask__loop ? cask__loop->current : NULL; }
/* cask_spawn_with, calling link(t, ctx) on the new task before it can run (groups). */
int cask__spawn(cask_task **out, cask_fn fn, void *arg, const struct cask_spawn_opts *o,
                void (*link)(cask_task *t, void *ctx), void *ctx);
/* cask_join; shielded: a cancelled caller returns -ECANCELED at once and c runs on untouched
 * (asyncio.shield) instead of being cancelled and waited for. */
int cask__join(cask_task *c, bool shielded);
/* Gives back to the kernel the task slabs that are wholly free, beyond keep free structs;
 * returns how many structs it gave back. */
size_t cask__tasks_trim(cask_loop *l, size_t keep);
/* True if cask__tasks_trim(l, keep) might give something back. */
bool cask__tasks_trimmable(const cask_loop *l, size_t keep);
/* Frees every task at loop close, reporting failures nobody read. */
void cask__tasks_close(cask_loop *l);
/* Runs a task from the scheduler until it parks or ends. */
void cask__task_run(cask_loop *l, cask_task *t);
/* Gives a task that runs for the first time its stack. Returns false if it ended instead
 * (cancelled before its first run, or no memory for a stack: -ENOMEM). */
bool cask__task_start(cask_loop *l, cask_task *t);
/*
 * The context a task that gives up the CPU (parks, yields, ends) switches to: the next task of
 * this iteration's snapshot, reached directly without passing through the scheduler; when the
 * snapshot is used up and more is ready, the task crosses the iteration boundary itself (poll
 * without waiting, due timers, a new snapshot). The scheduler's context when the next
 * runnable is a callback or nothing is ready (the scheduler blocks in the poller).
 * Sets l->current and the state of the task it picks.
 */
struct cask__ctx *cask__next(cask_loop *l);
/* Frees the task that ended just before this context resumed, if any. */
void cask__reap_dead(cask_loop *l);
static inline void cask__reap(cask_loop *l)
{
    if (l->dead)
        cask__reap_dead(l);
}
/* Frees futures left at loop close (core/future.c). */
void cask__futures_close(cask_loop *l);
void cask__handles_close(cask_loop *l);
/* Callback runnables: run one from the ready queue (core/loop.c). */
void cask__handle_run(cask_loop *l, cask_handle *h);
/* Schedules fn(a, b, c) on the next iteration. Returns 0 or -ENOMEM. */
int cask__call_soon3(cask_loop *l, void (*fn)(void *, void *, void *), void *a, void *b, void *c);
/* Signals (io/signal.c): counts arrived for this loop, handed to its receivers at the
 * boundary; cask_run's signals that cancel the main task (mask: bit sig-1); the loop's end. */
void cask__signals_drain(cask_loop *l);
int cask__signals_cancel_main(cask_loop *l, uint64_t mask);
void cask__signals_close(cask_loop *l);
/* Diagnostics (debug/): set up and torn down by cask_run; a loop with nothing it could ever
 * run again (checks for deadlocks); tasks left when main returned; symbolization. */
struct cask__diag;
int cask__diag_start(cask_loop *l, const struct cask_config *cfg);
void cask__diag_stop(cask_loop *l);
void cask__diag_idle(cask_loop *l);
void cask__diag_leftovers(cask_loop *l);
/* The trace timeline (debug/trace.c). The hooks are called only while l->trace is set:
 * task events (spawn, run, yield, end, name), a task parking on w, a task woken, loop events
 * (poll and callback begin/end, a timer fired, fd i ready with events aux). */
enum {
    CASK__TR_SPAWN = 1,
    CASK__TR_RUN,
    CASK__TR_PARK,
    CASK__TR_YIELD,
    CASK__TR_END,
    CASK__TR_WAKE,
    CASK__TR_NAME,
    CASK__TR_POLL,
    CASK__TR_POLL_END,
    CASK__TR_CALLBACK,
    CASK__TR_CALLBACK_END,
    CASK__TR_TIMER,
    CASK__TR_FD,
};
struct cask__trace;
void cask__trace_task(cask_loop *l, int kind, const cask_task *t, int i);
void cask__trace_park(cask_loop *l, const cask_task *t, const struct cask__waiter *w);
void cask__trace_wake(cask_loop *l, const cask_task *t, int status);
void cask__trace_loop(cask_loop *l, int kind, int i, uint64_t aux);
/* cask_run's config: starts recording when it names a trace file (or checks the fields). */
int cask__trace_config(cask_loop *l, const struct cask_config *cfg);
/* A task's stack is about to go back to the pool (diagnostics on): cfg.report_stack_use
 * measures it and gives its pages back (debug/stackuse.c). */
void cask__stackuse_end(cask_loop *l, const cask_task *t);
/* At loop close: writes the configured trace file, frees the recording. */
void cask__trace_close(cask_loop *l);
/* A clock of tick granularity (a few ms), cheap enough for every park while diagnostics are
 * on: how long a task has waited. */
uint64_t cask__coarse_ns(void);
/* Prints the running task's backtrace to f (fatal misuse reports); nothing outside tasks. */
void cask__diag_fatal_backtrace(FILE *f);
/* Writes task t's backtrace from a fault's ucontext to fd 2 (the stack overflow report). */
void cask__diag_overflow_backtrace(const cask_task *t, void *uctx);
/* A readable name for a code address: "func+0x12 (file.c:42)" or "0x... (lib.so)".
 * Thread-safe; returns the length written. */
size_t cask__symbolize(const void *pc, bool return_address, char *buf, size_t n);
/* The frames of a parked task (from its saved context) or of the running code (from fp/pc),
 * walking frame pointers within [lo, hi). Returns how many pcs were stored. */
int cask__frames_parked(const struct cask__ctx *c, const void *lo, const void *hi, void **pcs,
                        int max);
int cask__frames_from(void *fp, void *pc, const void *lo, const void *hi, void **pcs, int max);
/* The same from a signal handler's ucontext (the first pc is the interrupted instruction). */
int cask__frames_ucontext(const void *uc, const void *lo, const void *hi, void **pcs, int max);
/* Signals (io/signal.c): true if a receiver or cask_run option of this loop could still make
 * a task runnable (the receiver except, the diagnostics' own, does not count). */
bool cask__signals_may_wake(cask_loop *l, const cask_signal *except);
/* True if sig arrived for loop l and the loop has not drained it yet. Callable from any
 * thread (the stall watchdog: a dump signal the stuck loop cannot handle). */
bool cask__signal_arrived(cask_loop *l, int sig);
/* The fd registry (core/fdtab.c): readiness from the backend, waits, forgetting an fd. */
void cask__fd_ready(cask_loop *l, int fd, int events);
/* cask_wait_fd for self once the arguments were checked. */
int cask__fd_wait(cask_loop *l, cask_task *self, int fd, int events);
/* cask_fd_forget: drops fd's registration, waking its waiters with -EBADF. */
void cask__fd_forget(cask_loop *l, int fd);
void cask__fds_close(cask_loop *l);
/* Marks fd as a file of a memory file system, whose reads and writes copy memory and never
 * wait for a device (io/fs.c runs them inline). Cleared by cask__fd_forget. 0 or -ENOMEM. */
int cask__fd_set_memfile(cask_loop *l, int fd);
static inline bool cask__fd_memfile(const cask_loop *l, int fd)
{
    return fd >= 0 && fd < l->nfds_cap && l->fds[fd].memfile;
}
/* cask_to_thread for calls whose arguments live on the caller's stack (pool/thread.c): a
 * cancelled task gets -ECANCELED at once only while fn has not started; once it runs, the task
 * waits for it and gets fn's return value (the cancellation stays pending). */
int cask__to_thread_wait(cask_fn fn, void *arg);
/* Reports a failed task whose status nobody read. */
void cask__report_unretrieved(const char *what, const char *name, int status);
/* Scope timer/cancel plumbing (core/scope.c). */
enum {
    CASK__SCOPE_OPEN = 1,
    CASK__SCOPE_EXPIRED = 2,  /* deadline passed or cancelled: blocking calls inside fail */
    CASK__SCOPE_SHIELD = 4,   /* cancellation from outside does not reach inside */
    CASK__SCOPE_TIMEOUT = 8,  /* close turns expiry into -ETIMEDOUT */
    CASK__SCOPE_MOVE_ON = 16, /* close turns expiry into 0 */
    CASK__SCOPE_GROUP = 32,   /* a task group's body: close leaves the status alone */
    CASK__SCOPE_CLOSED = 64,
    CASK__SCOPE_PAST = 128, /* the deadline as given is when_ (the timer holds its clamp) */
    CASK__SCOPE_BOXED = 256, /* a compact task's scope: the real one is the heap box parent_ */
    CASK__SCOPE_INBOX = 512, /* the heap box of a boxed scope (struct cask__scope_box) */
};
/* The heap box of a compact task's scope, with the struct on the stack it stands for: an open
 * of that struct finds it here without reading the struct (uninitialised before its first
 * open). */
struct cask__scope_box {
    cask_scope s;
    const cask_scope *handle;
};
/* The scope s stands for (its heap box when s is a compact task's boxed scope). */
static inline cask_scope *cask__scope_real(cask_scope *s)
{
    return s && (s->flags_ & CASK__SCOPE_BOXED) ? s->parent_ : s;
}
/* Opens a scope of the given kind with an absolute deadline (CASK__NEVER: none). */
int cask__scope_open(cask_scope *s, uint32_t kind, uint64_t when);
/* Marks s expired and interrupts its task if it is parked inside. */
void cask__scope_expire(cask_scope *s);

#endif /* CASK_INTERNAL_H */

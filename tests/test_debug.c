/* test_debug.c: diagnostics (issue 9): the task tree as text and JSON (parsed here), with
 * parents, states, what each task waits on, spawn sites and backtraces naming the parked
 * function; the wait-for graph and its cycles; deadlock detection when nothing can run; the
 * live stall watchdog; the dump signal; tasks left when main returns.
 * Functions whose names the tests look for in backtraces are not static: the dladdr
 * fallback (a build without libdw) names only exported symbols (tests link with -rdynamic). */
#define _GNU_SOURCE
#include "cask_test.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a small JSON checker: the dumps must be valid JSON ---- */

static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}
static const char *js_value(const char *p);
static const char *js_string(const char *p)
{
    if (*p != '"')
        return NULL;
    for (p++; *p && *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i]))
                        return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
                return NULL;
            }
        }
    }
    return *p == '"' ? p + 1 : NULL;
}
static const char *js_value(const char *p)
{
    p = js_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = js_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                p = js_string(js_ws(p));
                if (!p)
                    return NULL;
                p = js_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = js_value(p);
            if (!p)
                return NULL;
            p = js_ws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            return *p == close ? p + 1 : NULL;
        }
    }
    if (*p == '"')
        return js_string(p);
    if (*p == '-' || isdigit((unsigned char)*p)) {
        char *end;
        strtod(p, &end);
        return end;
    }
    for (const char *lit = "true\0false\0null\0"; *lit; lit += strlen(lit) + 1)
        if (!strncmp(p, lit, strlen(lit)))
            return p + strlen(lit);
    return NULL;
}
static bool json_valid(const char *s)
{
    const char *end = js_value(s);
    return end && *js_ws(end) == 0;
}

/* The JSON object of the task with this name in a tree dump (its text up to the next "}"). */
static char *task_obj(const char *dump, const char *name, char *out, size_t n)
{
    char key[80];
    snprintf(key, sizeof key, "\"name\": \"%s\"", name);
    const char *p = strstr(dump, key);
    if (!p)
        return NULL;
    while (p > dump && *p != '{')
        p--;
    const char *e = strchr(p, '}');
    size_t len = e ? (size_t)(e - p + 1) : strlen(p);
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = 0;
    return out;
}

/* Writes into a memory stream; the text is in *buf after close. */
struct mem {
    char *buf;
    size_t len;
    FILE *f;
};
static void mem_open(struct mem *m) { m->f = open_memstream(&m->buf, &m->len); }
static const char *mem_text(struct mem *m)
{
    fflush(m->f);
    return m->buf ? m->buf : "";
}
static void mem_close(struct mem *m)
{
    fclose(m->f);
    free(m->buf);
}

/* ---- the tree ---- */

/* Work after a blocking call, so that the compiler cannot make it a tail call (which would
 * take the caller's frame out of the backtrace). */
static volatile int sink;
static int after(int rc)
{
    sink = rc;
    return sink;
}

static cask_lock lk = CASK_LOCK_INIT;
static cask_event never = CASK_EVENT_INIT;
static cask_queue *q;
static int pipefd[2];

int dbg_holder(void *arg);
int dbg_holder(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_lock_acquire(&lk), 0);
    int rc = cask_sleep(30);
    cask_lock_release(&lk);
    return rc;
}
int dbg_parked_in_lock(void *arg);
int dbg_parked_in_lock(void *arg)
{
    (void)arg;
    int rc = cask_lock_acquire(&lk);
    if (rc == 0)
        cask_lock_release(&lk);
    return rc;
}
int dbg_queue_getter(void *arg);
int dbg_queue_getter(void *arg)
{
    (void)arg;
    void *item;
    return after(cask_queue_get(q, &item));
}
int dbg_fd_reader(void *arg);
int dbg_fd_reader(void *arg)
{
    (void)arg;
    return after(cask_wait_fd(pipefd[0], CASK_READABLE));
}
int dbg_event_waiter(void *arg);
int dbg_event_waiter(void *arg)
{
    (void)arg;
    return after(cask_event_wait(&never));
}
int dbg_joiner(void *arg);
int dbg_joiner(void *arg)
{
    return after(cask_join(arg));
}
/* spawns two children itself, then joins them: they are its children in the tree */
int dbg_spawner(void *arg);
int dbg_spawner(void *arg)
{
    (void)arg;
    cask_task *k1, *k2;
    struct cask_spawn_opts o1 = {.name = "kid-1"}, o2 = {.name = "kid-2"};
    CHECK_EQ(cask_spawn_with(&k1, dbg_event_waiter, NULL, &o1), 0);
    CHECK_EQ(cask_spawn_with(&k2, dbg_event_waiter, NULL, &o2), 0);
    int rc = cask_join(k1);
    if (cask_join(k2) < 0 && rc == 0)
        rc = -1;
    cask_release(k1);
    cask_release(k2);
    return rc;
}

static cask_task *spawn_named(const char *name, cask_fn fn, void *arg)
{
    cask_task *t;
    struct cask_spawn_opts o = {.name = name};
    CHECK_EQ(cask_spawn_with(&t, fn, arg, &o), 0);
    return t;
}

static int tree_main(void *arg)
{
    bool json = arg != NULL;
    CHECK_EQ(pipe(pipefd), 0);
    CHECK_EQ(cask_queue_new(&q, 0, CASK_QUEUE_FIFO, NULL), 0);
    cask_task *t[7];
    t[0] = spawn_named("holder", dbg_holder, NULL);
    t[1] = spawn_named("locker", dbg_parked_in_lock, NULL);
    t[2] = spawn_named("getter", dbg_queue_getter, NULL);
    t[3] = spawn_named("reader", dbg_fd_reader, NULL);
    t[4] = spawn_named("joiner", dbg_joiner, t[1]);
    t[5] = spawn_named("spawner", dbg_spawner, NULL);
    t[6] = NULL;
    CHECK_EQ(cask_sleep(0.02), 0);
    struct mem m;
    mem_open(&m);
    CHECK_EQ(cask_dump_tree(m.f, json ? CASK_DUMP_JSON : 0), 9);
    const char *s = mem_text(&m);
    char obj[4096], want[160];
    if (json) {
        CHECK(json_valid(s));
        CHECK(task_obj(s, "locker", obj, sizeof obj));
        CHECK(strstr(obj, "\"state\": \"waiting\""));
        snprintf(want, sizeof want, "held by task %llu 'holder'",
                 (unsigned long long)cask_task_id(t[0]));
        CHECK(strstr(obj, want));
        snprintf(want, sizeof want, "\"waits_for_task\": %llu",
                 (unsigned long long)cask_task_id(t[0]));
        CHECK(strstr(obj, want));
        CHECK(strstr(obj, "\"wait_kind\": \"lock\""));
        CHECK(strstr(obj, "dbg_parked_in_lock")); /* the parked function, in its backtrace */
        CHECK(strstr(obj, "cask_lock_acquire"));
        CHECK(strstr(obj, "\"parent\": 1,"));
        CHECK(task_obj(s, "holder", obj, sizeof obj));
        CHECK(strstr(obj, "sleep, "));
        CHECK(strstr(obj, "s left"));
        CHECK(strstr(obj, "dbg_holder"));
        CHECK(task_obj(s, "getter", obj, sizeof obj));
        CHECK(strstr(obj, "queue get"));
        CHECK(strstr(obj, "1 waiting"));
        CHECK(task_obj(s, "reader", obj, sizeof obj));
        snprintf(want, sizeof want, "fd %d read", pipefd[0]);
        CHECK(strstr(obj, want));
        CHECK(task_obj(s, "joiner", obj, sizeof obj));
        snprintf(want, sizeof want, "join task %llu 'locker'",
                 (unsigned long long)cask_task_id(t[1]));
        CHECK(strstr(obj, want));
        CHECK(task_obj(s, "kid-1", obj, sizeof obj));
        snprintf(want, sizeof want, "\"parent\": %llu,", (unsigned long long)cask_task_id(t[5]));
        CHECK(strstr(obj, want));
        CHECK(strstr(obj, "\"depth\": 2"));
        CHECK(strstr(obj, "dbg_spawner")); /* spawned at: the spawn call in dbg_spawner */
        CHECK(strstr(obj, "event"));
        /* the main task: running, its own backtrace names this function */
        CHECK(task_obj(s, "Task-1", obj, sizeof obj));
        CHECK(strstr(obj, "\"state\": \"running\""));
    } else {
        CHECK(strstr(s, "task tree: 9 tasks"));
        CHECK(strstr(s, "\n  #2 'holder' waiting: sleep, "));
        CHECK(strstr(s, "'locker' waiting: lock 0x"));
        CHECK(strstr(s, "at cask__park") || strstr(s, "at cask_"));
        CHECK(strstr(s, "dbg_parked_in_lock"));
        CHECK(strstr(s, "\n    #9 'kid-2' waiting: event"));
        CHECK(strstr(s, "spawned at dbg_spawner"));
    }
    mem_close(&m);
    for (int i = 0; i < 6; i++) {
        cask_cancel(t[i]);
        CHECK(cask_join(t[i]) <= 0);
        cask_release(t[i]);
    }
    cask_queue_free(q);
    close(pipefd[0]);
    close(pipefd[1]);
    return 0;
}
TEST(debug_tree_text) { CHECK_EQ(cask_run(tree_main, NULL), 0); }
TEST(debug_tree_json) { CHECK_EQ(cask_run(tree_main, (void *)1), 0); }

int dbg_misuse_main(void *p);
int dbg_misuse_main(void *p)
{
    (void)p;
    CHECK_EQ(cask_dump_tree(NULL, 0), -EINVAL);
    CHECK_EQ(cask_dump_tree(stderr, 64), -EINVAL);
    CHECK_EQ(cask_find_deadlocks(NULL, 64), -EINVAL);
    CHECK_EQ(cask_find_deadlocks(NULL, 0), 0);
    void *pcs[16];
    CHECK_EQ(cask_task_backtrace(NULL, pcs, 16), -EINVAL);
    CHECK_EQ(cask_task_backtrace(cask_current(), NULL, 4), -EINVAL);
    int n = cask_task_backtrace(cask_current(), pcs, 16);
    CHECK(n >= 2);
    bool found = false;
    char sym[200];
    for (int i = 0; i < n; i++) {
        cask_symbolize(pcs[i], sym, sizeof sym);
        if (strstr(sym, "dbg_misuse_main"))
            found = true;
    }
    CHECK(found);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, dbg_event_waiter, NULL), 0);
    CHECK_EQ(cask_task_backtrace(t, pcs, 16), 0); /* not run yet: no stack */
    cask_cancel(t);
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK_EQ(cask_task_backtrace(t, pcs, 16), -EINVAL); /* ended */
    cask_release(t);
    CHECK_EQ(cask_symbolize(pcs[0], NULL, 0), 0);
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_dump_tree(stderr, 0), -ENOMEM);
    ct_fail_alloc_after(1);
    CHECK_EQ(cask_find_deadlocks(NULL, 0), -ENOMEM);
    ct_fail_alloc_after(0);
    return 0;
}
TEST(debug_misuse)
{
    CHECK_EQ(cask_dump_tree(stderr, 0), -EPERM);
    CHECK_EQ(cask_find_deadlocks(stderr, 0), -EPERM);
    CHECK_EQ(cask_run(dbg_misuse_main, NULL), 0);
}

/* ---- deadlocks ---- */

static cask_lock la = CASK_LOCK_INIT, lb = CASK_LOCK_INIT;
struct order {
    cask_lock *first, *second;
};
int dbg_take_both(void *arg);
int dbg_take_both(void *arg)
{
    struct order *o = arg;
    int rc = cask_lock_acquire(o->first);
    if (rc)
        return rc;
    rc = cask_sleep(0.01);
    if (rc == 0) {
        rc = cask_lock_acquire(o->second);
        if (rc == 0)
            cask_lock_release(o->second);
    }
    cask_lock_release(o->first);
    return rc;
}

/* Sleeps until both tasks are parked in their cycle (slow machines, sanitizers). */
static void wait_for_cycle(void)
{
    double end = cask_time() + 10;
    while (cask_find_deadlocks(NULL, 0) == 0 && cask_time() < end)
        CHECK_EQ(cask_sleep(0.01), 0);
}

static int cycle_main(void *p)
{
    (void)p;
    struct order ab = {&la, &lb}, ba = {&lb, &la};
    cask_task *a = spawn_named("a", dbg_take_both, &ab);
    cask_task *b = spawn_named("b", dbg_take_both, &ba);
    wait_for_cycle();
    struct mem m;
    mem_open(&m);
    CHECK_EQ(cask_find_deadlocks(m.f, 0), 1);
    const char *s = mem_text(&m);
    char want[200];
    snprintf(want, sizeof want, "task %llu 'a' waits for lock %p held by task %llu 'b'",
             (unsigned long long)cask_task_id(a), (void *)&lb, (unsigned long long)cask_task_id(b));
    CHECK(strstr(s, want));
    snprintf(want, sizeof want, "task %llu 'b' waits for lock %p held by task %llu 'a'",
             (unsigned long long)cask_task_id(b), (void *)&la, (unsigned long long)cask_task_id(a));
    CHECK(strstr(s, want));
    mem_close(&m);
    mem_open(&m);
    CHECK_EQ(cask_find_deadlocks(m.f, CASK_DUMP_JSON), 1);
    s = mem_text(&m);
    CHECK(json_valid(s));
    CHECK(strstr(s, "\"kind\": \"lock\""));
    CHECK(strstr(s, "\"cycles\": [["));
    mem_close(&m);
    /* a join cycle on top: c joins d, d joins c (spawned so that both park first) */
    cask_cancel(a); /* breaks the lock cycle */
    CHECK_EQ(cask_join(a), -ECANCELED);
    CHECK_EQ(cask_join(b), 0);
    CHECK_EQ(cask_find_deadlocks(NULL, 0), 0);
    cask_release(a);
    cask_release(b);
    return 0;
}
TEST(debug_deadlock_lock_cycle) { CHECK_EQ(cask_run(cycle_main, NULL), 0); }

static cask_task *peer[2];
int dbg_join_peer(void *arg);
int dbg_join_peer(void *arg)
{
    intptr_t i = (intptr_t)arg;
    int rc = cask_sleep(0.01); /* both handles exist by now */
    if (rc)
        return rc;
    /* d's join is shielded: cancelling one task of a cycle of plain joins makes each join
     * cancel the other forever (see the report) */
    return after(i ? cask_shield_join(peer[0]) : cask_join(peer[1]));
}
static int join_cycle_main(void *p)
{
    (void)p;
    peer[0] = spawn_named("c", dbg_join_peer, (void *)0);
    peer[1] = spawn_named("d", dbg_join_peer, (void *)1);
    wait_for_cycle();
    struct mem m;
    mem_open(&m);
    CHECK_EQ(cask_find_deadlocks(m.f, 0), 1);
    CHECK(strstr(mem_text(&m), "'c' joins task"));
    CHECK(strstr(mem_text(&m), "'d' joins (shielded) task"));
    mem_close(&m);
    cask_cancel(peer[0]); /* c's join cancels d, whose shielded join returns -ECANCELED */
    CHECK_EQ(cask_join(peer[0]), -ECANCELED);
    CHECK_EQ(cask_join(peer[1]), -ECANCELED);
    cask_release(peer[0]);
    cask_release(peer[1]);
    return 0;
}
TEST(debug_deadlock_join_cycle) { CHECK_EQ(cask_run(join_cycle_main, NULL), 0); }

static int detect_main(void *p)
{
    (void)p;
    struct order ab = {&la, &lb}, ba = {&lb, &la};
    cask_task *a = spawn_named("a", dbg_take_both, &ab);
    cask_task *b = spawn_named("b", dbg_take_both, &ba);
    /* a little real waiting first: timers and to_thread jobs are not deadlocks */
    CHECK_EQ(cask_sleep(0.02), 0);
    int rc = cask_join(a);
    CHECK_EQ(rc, -ECANCELED); /* the report cancelled main; the join cancelled a */
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    CHECK_EQ(cask_join(b), 0);
    cask_release(a);
    cask_release(b);
    return -ECANCELED;
}
TEST(debug_detect_deadlock)
{
    struct mem m;
    mem_open(&m);
    struct cask_config cfg = {.detect_deadlocks = true, .diag_out = m.f};
    CHECK_EQ(cask_run_with(detect_main, NULL, &cfg), -ECANCELED);
    const char *s = mem_text(&m);
    CHECK(strstr(s, "cask: nothing can run again: 3 tasks wait"));
    CHECK(strstr(s, "deadlock: task"));
    CHECK(strstr(s, "task tree: 3 tasks"));
    CHECK(strstr(s, "cancelling the main task"));
    mem_close(&m);
}

static int slow_job(void *p)
{
    (void)p;
    usleep(50000);
    return 7;
}
static int writer_thread_main(void *p)
{
    (void)p;
    usleep(30000);
    return (int)write(pipefd[1], "x", 1);
}
static void *kill_later(void *p)
{
    (void)p;
    usleep(30000);
    kill(getpid(), SIGUSR1);
    return NULL;
}
static int no_false_alarm_main(void *p)
{
    (void)p;
    CHECK_EQ(cask_to_thread(slow_job, NULL), 7); /* only a worker can wake main here */
    CHECK_EQ(pipe(pipefd), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, dbg_fd_reader, NULL), 0);
    CHECK_EQ(cask_to_thread(writer_thread_main, NULL), 1);
    CHECK(cask_join(t) > 0); /* it waited on an fd: not a deadlock either */
    cask_release(t);
    close(pipefd[0]);
    close(pipefd[1]);
    /* only a signal from a thread cask does not know can wake main: not a deadlock */
    int sigs[] = {SIGUSR1};
    cask_signal *r;
    CHECK_EQ(cask_signal_open(&r, sigs, 1), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, kill_later, NULL), 0);
    CHECK_EQ(cask_signal_wait(r), SIGUSR1);
    pthread_join(th, NULL);
    return cask_signal_close(r);
}
TEST(debug_detect_deadlock_no_false_alarm)
{
    struct mem m;
    mem_open(&m);
    struct cask_config cfg = {.detect_deadlocks = true, .diag_out = m.f};
    CHECK_EQ(cask_run_with(no_false_alarm_main, NULL, &cfg), 0);
    CHECK_STR(mem_text(&m), "");
    mem_close(&m);
}

/* ---- the stall watchdog ---- */

int dbg_spin_without_yielding(double seconds);
/* noinline: clang would fold it into spinner, and the live trace would not name it */
__attribute__((noinline)) int dbg_spin_without_yielding(double seconds)
{
    /* mostly in this function's own code (the clock is read in the vDSO, which keeps no frame
     * pointer: a probe landing there would cut the trace short) */
    double end = cask_time() + seconds;
    volatile unsigned long n = 0;
    do {
        for (int i = 0; i < 1000000; i++)
            n++;
    } while (cask_time() < end);
    return (int)(n & 0);
}
static int spinner(void *p)
{
    (void)p;
    return dbg_spin_without_yielding(0.3) + cask_yield();
}
static int stall_main(void *p)
{
    (void)p;
    cask_task *t = spawn_named("spinner", spinner, NULL);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    return 0;
}
TEST(debug_stall_caught_live)
{
    struct mem m;
    mem_open(&m);
    struct cask_config cfg = {.stall_threshold = 0.05, .diag_out = m.f};
    CHECK_EQ(cask_run_with(stall_main, NULL, &cfg), 0);
    const char *s = mem_text(&m);
    CHECK(strstr(s, "cask: stall: task 2 'spinner' has run for "));
    CHECK(strstr(s, "dbg_spin_without_yielding")); /* taken live, from the stuck thread */
    /* one report per stuck step */
    CHECK(strstr(s, "cask: stall:") == strstr(s, "cask: stall: task 2"));
    CHECK(!strstr(strstr(s, "cask: stall:") + 1, "cask: stall:"));
    mem_close(&m);
}

static void spin_cb(void *arg)
{
    (void)arg;
    dbg_spin_without_yielding(0.2);
}
static int busy_but_fair(void *p)
{
    (void)p;
    /* 0.3 s of work in short steps: never a stall */
    double end = cask_time() + 0.3;
    while (cask_time() < end) {
        double step = cask_time() + 0.005;
        while (cask_time() < step)
            ;
        CHECK_EQ(cask_yield(), 0);
    }
    CHECK_EQ(cask_sleep(0.2), 0); /* idle in the poller: not a stall either */
    CHECK_EQ(cask_call_soon(NULL, spin_cb, NULL), 0);
    return cask_sleep(0.01);
}
TEST(debug_stall_callback_and_no_false_alarm)
{
    struct mem m;
    mem_open(&m);
    struct cask_config cfg = {.stall_threshold = 0.05, .diag_out = m.f};
    CHECK_EQ(cask_run_with(busy_but_fair, NULL, &cfg), 0);
    const char *s = mem_text(&m);
    CHECK(strstr(s, "cask: stall: a callback has run for "));
    CHECK(strstr(s, "spin_cb") || strstr(s, "dbg_spin_without_yielding"));
    CHECK(!strstr(s, "cask: stall: task"));
    mem_close(&m);
}

/* ---- the dump signal; tasks left when main returns ---- */

static int dump_sig_main(void *p)
{
    (void)p;
    cask_task *t = spawn_named("sleeper", dbg_event_waiter, NULL);
    CHECK_EQ(cask_sleep(0.01), 0);
    raise(SIGUSR2);
    CHECK_EQ(cask_sleep(0.01), 0);
    cask_release(t); /* left running: reported, then cancelled by cask_run */
    return 0;
}
TEST(debug_dump_signal_and_leftovers)
{
    struct mem m;
    mem_open(&m);
    struct cask_config cfg = {.dump_signal = SIGUSR2, .report_leftovers = true, .diag_out = m.f};
    CHECK_EQ(cask_run_with(dump_sig_main, NULL, &cfg), 0);
    const char *s = mem_text(&m);
    const char *dump = strstr(s, "cask: signal 12: task tree");
    CHECK(dump);
    CHECK(strstr(dump, "'sleeper' waiting"));
    CHECK(strstr(dump, "dbg_event_waiter"));
    const char *left = strstr(s, "cask: 1 task still alive when main returned");
    CHECK(left && left > dump);
    CHECK(strstr(left, "'sleeper' waiting"));
    mem_close(&m);
    struct sigaction sa;
    sigaction(SIGUSR2, NULL, &sa);
    CHECK(sa.sa_handler == SIG_DFL);
}

TEST(debug_config_invalid)
{
    struct cask_config cfg = {.stall_threshold = -1};
    CHECK_EQ(cask_run_with(dump_sig_main, NULL, &cfg), -EINVAL);
    struct cask_config cfg2 = {.dump_signal = SIGKILL};
    CHECK_EQ(cask_run_with(dump_sig_main, NULL, &cfg2), -EINVAL);
}

/* ---- fatal misuse names the task and prints its backtrace ---- */

int dbg_leaves_scope_open(void *arg);
int dbg_leaves_scope_open(void *arg)
{
    cask_scope *sc = arg;
    CHECK_EQ(cask_timeout_open(sc, 10), 0);
    return 0; /* misuse: the scope is still open */
}
static int fatal_main(void *p)
{
    (void)p;
    static cask_scope sc;
    cask_task *t = spawn_named("leaky", dbg_leaves_scope_open, &sc);
    return cask_join(t);
}
TEST(debug_fatal_misuse_backtrace)
{
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        alarm(10);
        cask_run(fatal_main, NULL);
        _exit(0);
    }
    close(pfd[1]);
    char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(pfd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(pfd[0]);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, "cask: fatal: "));
    CHECK(strstr(buf, "still open"));
    CHECK(strstr(buf, "cask: in task 2 'leaky':\n    at "));
}

/* ---- a stack overflow report names the task and shows where it was ---- */

static volatile int depth_limit = 1 << 30; /* never reached: the stack ends first */
int dbg_recurse(int n);
int dbg_recurse(int n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    if (n >= depth_limit)
        return 0;
    return dbg_recurse(n + 1) + buf[0];
}
static int overflow_task(void *p)
{
    (void)p;
    return dbg_recurse(0);
}
static int overflow_main(void *p)
{
    (void)p;
    cask_task *t;
    struct cask_spawn_opts o = {.name = "diver", .stack_size = 32 * 1024};
    CHECK_EQ(cask_spawn_with(&t, overflow_task, NULL, &o), 0);
    return cask_join(t);
}
TEST(debug_overflow_backtrace)
{
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        alarm(10);
        cask_run(overflow_main, NULL);
        _exit(0);
    }
    close(pfd[1]);
    char buf[16384];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(pfd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(pfd[0]);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    const char *rep = strstr(buf, "cask: task 'diver' overflowed");
    CHECK(rep);
    CHECK(strstr(rep, "\n    at "));
    CHECK(strstr(rep, "dbg_recurse"));
}

/* ---- the trace timeline ---- */

struct trace_prog {
    cask_queue *q;
    cask_lock lock;
};
int dbg_trace_producer(void *arg);
int dbg_trace_producer(void *arg)
{
    struct trace_prog *p = arg;
    for (intptr_t i = 0; i < 3; i++) {
        CHECK_EQ(cask_queue_put(p->q, (void *)i), 0);
        CHECK_EQ(cask_sleep(0.01), 0);
    }
    return 0;
}
int dbg_trace_consumer(void *arg);
int dbg_trace_consumer(void *arg)
{
    struct trace_prog *p = arg;
    for (int i = 0; i < 3; i++) {
        void *item;
        CHECK_EQ(cask_queue_get(p->q, &item), 0);
        CHECK_EQ((intptr_t)item, i);
    }
    CHECK_EQ(cask_lock_acquire(&p->lock), 0); /* held by main for a while */
    cask_lock_release(&p->lock);
    return 0;
}
static int trace_prog_main(void *arg)
{
    FILE *out = arg;
    if (out)
        CHECK_EQ(cask_trace_start(0), 0);
    struct trace_prog p;
    CHECK_EQ(cask_queue_new(&p.q, 1, CASK_QUEUE_FIFO, NULL), 0);
    cask_lock_init(&p.lock);
    CHECK_EQ(cask_lock_acquire(&p.lock), 0);
    cask_task *c = spawn_named("consumer", dbg_trace_consumer, &p);
    cask_task *pr = spawn_named("producer", dbg_trace_producer, &p);
    CHECK_EQ(cask_join(pr), 0);
    CHECK_EQ(cask_sleep(0.01), 0);
    cask_lock_release(&p.lock);
    CHECK_EQ(cask_join(c), 0);
    cask_release(c);
    cask_release(pr);
    cask_queue_free(p.q);
    if (out) {
        CHECK_EQ(cask_trace_stop(), 0);
        CHECK(cask_trace_write(out) > 20);
    }
    return 0;
}

/* Runs tests/check_trace.py on the file with the given arguments; false if it finds problems.
 * The suite runs from the repository's top (make test). */
static bool trace_checked(const char *path, const char *args)
{
    if (access("tests/check_trace.py", R_OK) != 0) {
        fprintf(stderr, "(trace checker not found from %s: JSON validity checked only)\n",
                getenv("PWD") ? getenv("PWD") : "here");
        return true;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 tests/check_trace.py %s %s >&2", path, args);
    return system(cmd) == 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

TEST_T(debug_trace_json, 60)
{
    char path[] = "/tmp/cask-trace-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK_EQ(cask_run(trace_prog_main, f), 0);
    fclose(f);
    char *s = slurp(path);
    CHECK(s && json_valid(s));
    /* tracks named for the tasks; waits in words; wakes naming the waker */
    CHECK(strstr(s, "\"name\":\"producer (task 3)\""));
    CHECK(strstr(s, "\"name\":\"consumer (task 2)\""));
    CHECK(strstr(s, "\"name\":\"queue get 0x"));
    CHECK(strstr(s, "\"name\":\"lock 0x"));
    CHECK(strstr(s, " held by task 1 'Task-1'\""));
    CHECK(strstr(s, "\"name\":\"join task 3 'producer'\""));
    CHECK(strstr(s, "\"name\":\"sleep 0.010 s\""));
    CHECK(strstr(s, "\"by\":\"task 3 'producer'\""));
    CHECK(strstr(s, "\"by\":\"loop\"")); /* the sleeps' timers */
    CHECK(strstr(s, "\"name\":\"timer\""));
    CHECK(strstr(s, "\"name\":\"spawned at\"") && strstr(s, "\"site\":\""));
    CHECK(trace_checked(path, "--flows --track 'producer (task 3)' --track 'consumer (task 2)' "
                              "--wait 'queue get' --wait 'lock 0x' --wait 'join task 3' "
                              "--wake-by \"task 3 'producer'\" --wake-by loop"));
    free(s);
    unlink(path);
}

static int trace_api_main(void *arg)
{
    (void)arg;
    FILE *null = fopen("/dev/null", "w");
    CHECK_EQ(cask_trace_write(null), -ENOENT); /* nothing recorded yet */
    CHECK_EQ(cask_trace_stop(), -ENOENT);
    CHECK_EQ(cask_trace_start(((size_t)1 << 24) + 1), -EINVAL);
    CHECK_EQ(cask_trace_start(100), 0);
    CHECK_EQ(cask_trace_start(100), -EBUSY);
    CHECK_EQ(cask_trace_write(NULL), -EINVAL);
    for (int i = 0; i < 300; i++) /* many more events than the ring holds (128) */
        CHECK_EQ(cask_yield(), 0);
    int n = cask_trace_write(null); /* while recording */
    CHECK_EQ(n, 128);
    CHECK_EQ(cask_trace_stop(), 0);
    CHECK_EQ(cask_trace_stop(), -ENOENT);
    CHECK_EQ(cask_trace_write(null), 128); /* kept after the stop */
    CHECK_EQ(cask_trace_start(0), 0);      /* a new recording replaces it */
    CHECK_EQ(cask_yield(), 0);
    n = cask_trace_write(null);
    CHECK(n > 0 && n < 10);
    fclose(null);
    return 0; /* still recording at the end: freed with the loop */
}
TEST(debug_trace_api)
{
    CHECK_EQ(cask_trace_start(0), -EPERM);
    CHECK_EQ(cask_trace_stop(), -EPERM);
    CHECK_EQ(cask_trace_write(stderr), -EPERM);
    CHECK_EQ(cask_run(trace_api_main, NULL), 0);
}

static int trace_busy_main(void *arg)
{
    for (int i = 0; i < 100; i++)
        CHECK_EQ(cask_yield(), 0);
    return trace_prog_main(arg);
}
TEST_T(debug_trace_config, 60)
{
    char path[] = "/tmp/cask-trace-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    /* the whole run, ring of 64: the oldest events are dropped, the JSON still balances */
    struct cask_config cfg = {.trace_path = path, .trace_events = 64};
    CHECK_EQ(cask_run_with(trace_busy_main, NULL, &cfg), 0);
    char *s = slurp(path);
    CHECK(s && json_valid(s));
    CHECK(strstr(s, "\"events\":64,")); /* the ring was full */
    CHECK(trace_checked(path, "--track consumer --dropped"));
    free(s);
    /* the whole run, default ring: main's track from its first run, nothing dropped */
    struct cask_config cfg2 = {.trace_path = path};
    CHECK_EQ(cask_run_with(trace_prog_main, NULL, &cfg2), 0);
    s = slurp(path);
    CHECK(s && json_valid(s));
    CHECK(strstr(s, "\"name\":\"Task-1 (task 1)\""));
    CHECK(strstr(s, "\"dropped\":0"));
    CHECK(trace_checked(path, "--track 'Task-1 (task 1)' --track producer --wait 'queue get'"));
    free(s);
    unlink(path);
    struct cask_config bad = {.trace_path = ""};
    CHECK_EQ(cask_run_with(trace_prog_main, NULL, &bad), -EINVAL);
    struct cask_config bad2 = {.trace_events = ((size_t)1 << 24) + 1};
    CHECK_EQ(cask_run_with(trace_prog_main, NULL, &bad2), -EINVAL);
}

/* ---- metrics ---- */

static int metrics_child(void *arg)
{
    (void)arg;
    return 0;
}
static int metrics_writer(void *arg)
{
    cask_stream *s = arg;
    char buf[1000];
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(cask_stream_write(s, buf, sizeof buf), (ssize_t)sizeof buf);
    return 0;
}
/* The value of metric name in Prometheus text (after its # HELP and # TYPE lines, which must
 * be there), or -1. */
static double prom_value(const char *text, const char *name, const char *type)
{
    char help[128], typ[128], sample[128];
    snprintf(help, sizeof help, "# HELP %s ", name);
    snprintf(typ, sizeof typ, "# TYPE %s %s\n", name, type);
    snprintf(sample, sizeof sample, "\n%s{loop=\"", name);
    const char *h = strstr(text, help), *t = strstr(text, typ), *s = strstr(text, sample);
    if (!h || !t || !s || !(h < t && t < s))
        return -1;
    s = strchr(s, '}');
    if (!s || s[1] != ' ')
        return -1;
    char *end;
    double v = strtod(s + 2, &end);
    return *end == '\n' ? v : -1;
}
static int metrics_main(void *arg)
{
    (void)arg;
    struct cask_loop_stats a, b;
    CHECK_EQ(cask_loop_stats(&a), 0);
    CHECK_EQ(a.tasks_spawned, 1u);
    cask_task *ts[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&ts[i], metrics_child, NULL), 0);
    CHECK_EQ(cask_loop_stats(&b), 0);
    CHECK_EQ(b.tasks_spawned, 4u);
    CHECK(b.ready >= 3); /* spawned, not run yet */
    CHECK_EQ(cask_gather(ts, 3, NULL), 0);
    for (int i = 0; i < 3; i++)
        cask_release(ts[i]);
    /* 1000 bytes through a socket pair, by streams */
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cask_stream *w, *r;
    CHECK_EQ(cask_stream_open(&w, sv[0], NULL), 0);
    CHECK_EQ(cask_stream_open(&r, sv[1], NULL), 0);
    CHECK_EQ(cask_loop_stats(&a), 0);
    cask_task *wt;
    CHECK_EQ(cask_spawn(&wt, metrics_writer, w), 0);
    char buf[1000];
    CHECK_EQ(cask_stream_readexactly(r, buf, sizeof buf, NULL), (ssize_t)sizeof buf);
    CHECK_EQ(cask_join(wt), 0);
    cask_release(wt);
    CHECK_EQ(cask_sleep(0.05), 0); /* the loop blocks in the poller */
    CHECK_EQ(cask_loop_stats(&b), 0);
    CHECK_EQ(b.bytes_read - a.bytes_read, 1000u); /* each byte counted once, whatever path */
    CHECK_EQ(b.bytes_written - a.bytes_written, 1000u);
    CHECK(b.polls > a.polls);
    CHECK(b.poll_seconds - a.poll_seconds >= 0.04);
    CHECK(b.iterations > a.iterations);
    CHECK(b.switches > a.switches);
    CHECK_EQ(b.ready, 0u);
    /* the text form: every metric with HELP and TYPE, values as the struct says */
    struct mem m;
    mem_open(&m);
    int n = cask_metrics_write(m.f);
    const char *s = mem_text(&m);
    CHECK_EQ(n, (int)strlen(s));
    CHECK_EQ(prom_value(s, "cask_tasks_spawned_total", "counter"), 5.0);
    CHECK_EQ(prom_value(s, "cask_tasks_live", "gauge"), 1.0);
    CHECK_EQ(prom_value(s, "cask_ready_queue_length", "gauge"), 0.0);
    CHECK(prom_value(s, "cask_read_bytes_total", "counter") >= 1000);
    CHECK(prom_value(s, "cask_written_bytes_total", "counter") >= 1000);
    CHECK(prom_value(s, "cask_poll_blocked_seconds_total", "counter") >= 0.04);
    CHECK(prom_value(s, "cask_polls_blocked_total", "counter") >= 1);
    CHECK(prom_value(s, "cask_loop_iterations_total", "counter") >= (double)b.iterations);
    CHECK(prom_value(s, "cask_context_switches_total", "counter") >= (double)b.switches);
    CHECK(prom_value(s, "cask_callbacks_total", "counter") >= 0);
    /* each sample line: name{loop="tid"} value */
    int samples = 0;
    for (const char *line = s; *line; line = strchr(line, '\n') + 1) {
        if (line[0] != '#') {
            CHECK(!strncmp(line, "cask_", 5));
            CHECK(strstr(line, "{loop=\"") && strstr(line, "\"} "));
            samples++;
        }
        if (!strchr(line, '\n'))
            break;
    }
    CHECK_EQ(samples, 12);
    mem_close(&m);
    CHECK_EQ(cask_metrics_write(NULL), -EINVAL);
    cask_stream_free(w);
    cask_stream_free(r);
    return 0;
}
TEST(debug_metrics)
{
    CHECK_EQ(cask_metrics_write(stderr), -EPERM);
    CHECK_EQ(cask_run(metrics_main, NULL), 0);
}

/* ---- stack use ---- */

int dbg_stack_hog(void *arg);
int dbg_stack_hog(void *arg)
{
    volatile char buf[40 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 256)
        buf[i] = (char)i;
    if (arg)
        CHECK_EQ(cask_event_wait(arg), 0);
    return buf[256] == 0 ? 0 : 0;
}
static int stack_small(void *arg)
{
    (void)arg;
    return cask_yield();
}
static size_t json_num_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? (size_t)strtoull(p + strlen(key), NULL, 10) : 0;
}
static int stack_tree_main(void *arg)
{
    (void)arg;
    cask_event ev = CASK_EVENT_INIT;
    cask_task *t = spawn_named("hog", dbg_stack_hog, &ev);
    CHECK_EQ(cask_sleep(0.001), 0);
    struct mem m;
    mem_open(&m);
    CHECK_EQ(cask_dump_tree(m.f, CASK_DUMP_JSON | CASK_DUMP_NO_BACKTRACE), 2);
    char obj[2048];
    CHECK(task_obj(mem_text(&m), "hog", obj, sizeof obj));
    CHECK(json_num_after(obj, "\"stack_touched\": ") >= 40 * 1024);
    CHECK(json_num_after(obj, "\"stack_size\": ") >= 40 * 1024);
    mem_close(&m);
    mem_open(&m);
    CHECK_EQ(cask_dump_tree(m.f, CASK_DUMP_NO_BACKTRACE), 2);
    const char *line = strstr(mem_text(&m), "    stack: ");
    line = line ? strstr(line + 1, "    stack: ") : NULL; /* main's, then the hog's */
    CHECK(line);
    CHECK(strtoul(line + strlen("    stack: "), NULL, 10) >= 40);
    mem_close(&m);
    cask_event_set(&ev);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    return 0;
}
TEST(debug_stack_use_in_tree) { CHECK_EQ(cask_run(stack_tree_main, NULL), 0); }

int dbg_stack_report_main(void *arg);
int dbg_stack_report_main(void *arg)
{
    (void)arg;
    cask_task *ts[3];
    for (int i = 0; i < 3; i++)
        ts[i] = spawn_named("hog", dbg_stack_hog, NULL);
    CHECK_EQ(cask_gather(ts, 3, NULL), 0);
    for (int i = 0; i < 3; i++)
        cask_release(ts[i]);
    CHECK_EQ(cask_sleep(0.001), 0); /* the hogs' stacks are back in the pool */
    for (int i = 0; i < 5; i++) /* on the stacks the hogs used: measured as their own */
        ts[i % 3] = spawn_named("small", stack_small, NULL), cask_release(ts[i % 3]);
    return cask_sleep(0.01);
}
/* The numbers of a row of the stack use table: tasks, then max in KiB. */
static bool stack_row(const char *s, const char *name, unsigned *tasks, unsigned *max_kib)
{
    char key[64];
    snprintf(key, sizeof key, "\n  %s ", name);
    const char *p = strstr(s, key);
    if (!p)
        return false;
    unsigned med, p99;
    return sscanf(p + strlen(key), " %u %u KiB %u KiB %u KiB", tasks, &med, &p99, max_kib) == 4;
}
TEST(debug_stack_use_report)
{
    struct mem m;
    mem_open(&m);
    struct cask_config cfg = {.report_stack_use = true, .diag_out = m.f};
    CHECK_EQ(cask_run_with(dbg_stack_report_main, NULL, &cfg), 0);
    const char *s = mem_text(&m);
    CHECK(strstr(s, "cask: stack use per task"));
    unsigned n = 0, max = 0;
    CHECK(stack_row(s, "hog", &n, &max));
    CHECK_EQ(n, 3u);
    CHECK(max >= 40);
    CHECK(stack_row(s, "small", &n, &max));
    CHECK_EQ(n, 5u);
    CHECK(max < 40); /* the hogs' pages were given back: not counted as the small ones' */
    CHECK(strstr(s, "(unnamed) dbg_stack_report_main"));
    mem_close(&m);
}

/* ---- the dump signal while the loop is stuck: the watchdog writes the tree ---- */

static int stuck_spinner(void *p)
{
    (void)p;
    raise(SIGUSR2); /* the loop cannot answer: this step runs on for 0.4 s */
    return dbg_spin_without_yielding(0.4) + cask_yield();
}
static int stuck_dump_main(void *p)
{
    (void)p;
    cask_task *w = spawn_named("sleeper", dbg_event_waiter, NULL);
    CHECK_EQ(cask_sleep(0.01), 0);
    cask_task *t = spawn_named("spinner", stuck_spinner, NULL);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    cask_cancel(w);
    CHECK_EQ(cask_join(w), -ECANCELED);
    cask_release(w);
    return 0;
}
TEST(debug_dump_signal_while_stuck)
{
    struct mem m;
    mem_open(&m);
    struct cask_config cfg = {.stall_threshold = 0.05, .dump_signal = SIGUSR2, .diag_out = m.f};
    CHECK_EQ(cask_run_with(stuck_dump_main, NULL, &cfg), 0);
    const char *s = mem_text(&m);
    const char *stall = strstr(s, "cask: stall: task 3 'spinner'");
    const char *out = strstr(s, "cask: signal 12 while the loop is stuck (");
    CHECK(stall && out && out > stall);
    CHECK(strstr(out, "task tree, written by the watchdog\ntask tree: 3 tasks\n"));
    const char *spin = strstr(out, "'spinner' running");
    CHECK(spin);
    CHECK(strstr(spin, "dbg_spin_without_yielding")); /* its live backtrace */
    const char *sleeper = strstr(out, "'sleeper' waiting");
    CHECK(sleeper);
    CHECK(strstr(sleeper, "dbg_event_waiter")); /* parked: its own stack */
    /* once the step ended, the loop answered the signal itself */
    const char *later = strstr(out, "cask: signal 12: task tree");
    CHECK(later);
    CHECK(!strstr(later, "'spinner' running"));
    mem_close(&m);
}

/* The ring wraps over polls and callbacks; a write from inside a callback closes what is open. */
static char trace_cb_path[64];
static void trace_noop_cb(void *arg) { (void)arg; }
static void trace_write_cb(void *arg)
{
    int *n = arg;
    FILE *f = fopen(trace_cb_path, "w");
    CHECK(f != NULL);
    *n = cask_trace_write(f);
    fclose(f);
}
static int trace_wrap_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_trace_start(64), 0);
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(cask_sleep(0.001), 0); /* a poll slice on the loop track each */
        CHECK_EQ(cask_call_soon(NULL, trace_noop_cb, NULL), 0);
    }
    int n = 0;
    CHECK_EQ(cask_call_soon(NULL, trace_write_cb, &n), 0);
    CHECK_EQ(cask_sleep(0.001), 0);
    CHECK_EQ(n, 64);
    return 0;
}
TEST_T(debug_trace_ring_and_callback, 60)
{
    snprintf(trace_cb_path, sizeof trace_cb_path, "/tmp/cask-trace-cb-%d", (int)getpid());
    CHECK_EQ(cask_run(trace_wrap_main, NULL), 0);
    char *s = slurp(trace_cb_path);
    CHECK(s && json_valid(s));
    CHECK(strstr(s, "\"name\":\"callback\""));
    CHECK(trace_checked(trace_cb_path, "--dropped --track loop"));
    free(s);
    unlink(trace_cb_path);
}

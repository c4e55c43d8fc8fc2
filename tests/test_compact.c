/*
 * test_compact.c: compact tasks (a shared run stack, images copied out and in). Ping-pong
 * and deep stacks that must survive being copied, every kind of blocking call from compact
 * tasks, mixed compact and ordinary tasks, file calls and to_thread with stack buffers, the
 * overflow report, the debug mode's report of a pointer into a parked task's stack, and a
 * million compact sleepers.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct cask_spawn_opts compact = {.compact = true};

static cask_task *spawn_c(cask_fn fn, void *arg, const char *name)
{
    cask_task *t = NULL;
    struct cask_spawn_opts o = {.compact = true, .name = name};
    CHECK_EQ(cask_spawn_with(&t, fn, arg, &o), 0);
    return t;
}

static int join_release(cask_task *t)
{
    int rc = cask_join(t);
    cask_release(t);
    return rc;
}

/* ---- ping-pong: two compact tasks hand a counter back and forth through queues ---- */

struct pp {
    cask_queue *a, *b;
    int rounds;
    long sum;
};

static int pinger(void *p)
{
    struct pp *s = p;
    volatile char pad[700]; /* live stack that must survive every switch */
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = (char)i;
    for (intptr_t i = 0; i < s->rounds; i++) {
        CHECK_EQ(cask_queue_put(s->a, (void *)(i + 1)), 0);
        void *v;
        CHECK_EQ(cask_queue_get(s->b, &v), 0);
        CHECK_EQ((intptr_t)v, -(i + 1));
        for (size_t k = 0; k < sizeof pad; k += 97)
            CHECK_EQ(pad[k], (char)k);
    }
    return 0;
}

static int ponger(void *p)
{
    struct pp *s = p;
    volatile char pad[300];
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = (char)(i * 3);
    for (int i = 0; i < s->rounds; i++) {
        void *v;
        CHECK_EQ(cask_queue_get(s->a, &v), 0);
        s->sum += (intptr_t)v;
        CHECK_EQ(cask_queue_put(s->b, (void *)(-(intptr_t)v)), 0);
        for (size_t k = 0; k < sizeof pad; k += 31)
            CHECK_EQ(pad[k], (char)(k * 3));
    }
    return 0;
}

static int pingpong_main(void *arg)
{
    (void)arg;
    struct pp s = {.rounds = 1000};
    CHECK_EQ(cask_queue_new(&s.a, 1, CASK_QUEUE_FIFO, NULL), 0);
    CHECK_EQ(cask_queue_new(&s.b, 1, CASK_QUEUE_FIFO, NULL), 0);
    cask_task *x = spawn_c(pinger, &s, "ping"), *y = spawn_c(ponger, &s, "pong");
    CHECK_EQ(join_release(x), 0);
    CHECK_EQ(join_release(y), 0);
    CHECK_EQ(s.sum, 1000L * 1001 / 2);
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    /* every hand-over moved the 700- and 300-byte frames out and in */
    CHECK(st.compact_bytes_copied > 2000ull * 1000);
    CHECK_EQ(st.compact_bytes_held, 0);
    cask_queue_free(s.a);
    cask_queue_free(s.b);
    return 0;
}

TEST(compact_pingpong) { CHECK_EQ(cask_run(pingpong_main, NULL), 0); }

/* ---- deep stacks: 40 KiB of live frames copied out and back, then the buffer shrinks ---- */

static int deep_fill(int depth, unsigned seed, size_t *held_peak)
{
    volatile unsigned char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(seed + depth + i);
    int rc = 0;
    if (depth > 0) {
        rc = deep_fill(depth - 1, seed, held_peak);
    } else {
        CHECK_EQ(cask_sleep(0.001), 0); /* parked 40 frames down: the others take the stack */
        struct cask_loop_stats st;
        CHECK_EQ(cask_loop_stats(&st), 0);
        if (st.compact_bytes_held > *held_peak)
            *held_peak = st.compact_bytes_held;
    }
    for (size_t i = 0; i < sizeof buf; i++)
        if (buf[i] != (unsigned char)(seed + depth + i))
            return -EIO;
    return rc;
}

struct deep {
    unsigned seed;
    size_t peak;
};

static int deep_task(void *p)
{
    struct deep *d = p;
    for (int round = 0; round < 5; round++) {
        int rc = deep_fill(40, d->seed + (unsigned)round, &d->peak);
        if (rc)
            return rc;
    }
    /* after the peak: a shallow park gives the big buffer back */
    CHECK_EQ(cask_sleep(0.002), 0);
    return 0;
}

static int deep_main(void *arg)
{
    (void)arg;
    struct deep d[4];
    cask_task *t[4];
    for (int i = 0; i < 4; i++) {
        d[i] = (struct deep){.seed = (unsigned)i * 77};
        t[i] = spawn_c(deep_task, &d[i], NULL);
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(join_release(t[i]), 0);
    /* four images of 40 KiB or more were held at the peak */
    CHECK(d[0].peak > 4 * 40000);
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    CHECK_EQ(st.compact_bytes_held, 0);
    return 0;
}

TEST(compact_deep_stacks) { CHECK_EQ(cask_run(deep_main, NULL), 0); }

/* the save buffer shrinks once the peak is over (checked while the task is still alive) */
static int shrink_task(void *p)
{
    size_t *held = p;
    CHECK_EQ(deep_fill(30, 5, &held[0]), 0);
    CHECK_EQ(cask_sleep(0.001), 0); /* shallow now: the other one's switch saves it small */
    struct cask_loop_stats st;
    CHECK_EQ(cask_sleep(0.001), 0);
    CHECK_EQ(cask_loop_stats(&st), 0);
    held[1] = st.compact_bytes_held;
    return 0;
}
static int idler(void *p)
{
    size_t *held = p;
    while (!held[1]) /* takes the run stack between the other one's parks */
        CHECK_EQ(cask_sleep(0.0005), 0);
    return 0;
}
static int shrink_main(void *arg)
{
    (void)arg;
    size_t held[2] = {0, 0};
    cask_task *a = spawn_c(shrink_task, held, NULL), *b = spawn_c(idler, held, NULL);
    CHECK_EQ(join_release(a), 0);
    CHECK_EQ(join_release(b), 0);
    CHECK(held[0] > 30000);
    CHECK(held[1] < 4096); /* the big buffer shrank back after the peak */
    return 0;
}
TEST(compact_buffer_shrinks) { CHECK_EQ(cask_run(shrink_main, NULL), 0); }

/* ---- every kind of blocking call from compact tasks, contending with each other ---- */

struct shared {
    cask_lock lock;
    cask_event ev;
    cask_cond cond;
    cask_sem sem;
    cask_barrier bar;
    cask_future *fut;
    int counter;
    int ready;
};

static int sync_worker(void *p)
{
    struct shared *s = p;
    char local[256]; /* its own locals around every call */
    memset(local, 'x', sizeof local);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(cask_lock_acquire(&s->lock), 0);
        int v = s->counter;
        CHECK_EQ(cask_sleep(0), 0); /* yield holding the lock */
        s->counter = v + 1;
        CHECK_EQ(cask_lock_release(&s->lock), 0);
    }
    CHECK_EQ(cask_sem_acquire(&s->sem), 0);
    CHECK_EQ(cask_sleep(0.001), 0);
    CHECK_EQ(cask_sem_release(&s->sem), 0);
    CHECK_EQ(cask_event_wait(&s->ev), 0);
    CHECK_EQ(cask_cond_acquire(&s->cond), 0);
    while (!s->ready)
        CHECK_EQ(cask_cond_wait(&s->cond), 0);
    CHECK_EQ(cask_cond_release(&s->cond), 0);
    unsigned idx;
    CHECK_EQ(cask_barrier_wait(&s->bar, &idx), 0);
    void *v;
    CHECK_EQ(cask_future_await(s->fut, &v), 0);
    CHECK_EQ((intptr_t)v, 42);
    for (size_t i = 0; i < sizeof local; i++)
        CHECK_EQ(local[i], 'x');
    return 0;
}

static int sync_main(void *arg)
{
    (void)arg;
    struct shared s = {0};
    cask_lock_init(&s.lock);
    cask_event_init(&s.ev);
    cask_cond_init(&s.cond, NULL);
    CHECK_EQ(cask_sem_init(&s.sem, 2), 0);
    CHECK_EQ(cask_barrier_init(&s.bar, 5), 0);
    CHECK_EQ(cask_future_new(&s.fut), 0);
    cask_task *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = spawn_c(sync_worker, &s, NULL);
    CHECK_EQ(cask_sleep(0.02), 0);
    cask_event_set(&s.ev);
    CHECK_EQ(cask_sleep(0.001), 0);
    CHECK_EQ(cask_cond_acquire(&s.cond), 0);
    s.ready = 1;
    cask_cond_notify_all(&s.cond);
    CHECK_EQ(cask_cond_release(&s.cond), 0);
    CHECK_EQ(cask_sleep(0.001), 0);
    CHECK_EQ(cask_future_set_result(s.fut, (void *)42), 0);
    int st[5];
    CHECK_EQ(cask_gather(t, 5, st), 0);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(st[i], 0);
        cask_release(t[i]);
    }
    CHECK_EQ(s.counter, 250);
    cask_future_free(s.fut);
    return 0;
}

TEST(compact_sync_objects) { CHECK_EQ(cask_run(sync_main, NULL), 0); }

/* ---- scopes, groups, gather and wait from inside compact tasks ---- */

static int sleeper_for(void *p)
{
    double *secs = p;
    return cask_sleep(*secs) == 0 ? 7 : -ECANCELED;
}

static int group_child_start(void *p)
{
    (void)p;
    CHECK_EQ(cask_started((void *)5), 0);
    return cask_sleep(0.002);
}

static int scoped_task(void *p)
{
    int *out = p;
    /* a timeout that expires while other compact tasks run on the run stack */
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 0.005), 0);
    int rc = cask_sleep(1);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(cask_scope_close(&sc, rc), -ETIMEDOUT);
    CHECK(cask_scope_expired(&sc));
    /* move_on and a shield */
    CHECK_EQ(cask_move_on_open(&sc, 0.003), 0);
    cask_scope sh;
    CHECK_EQ(cask_shield_open(&sh), 0);
    CHECK_EQ(cask_sleep(0.006), 0); /* shielded: sleeps through the expiry */
    CHECK_EQ(cask_scope_close(&sh, 0), 0);
    CHECK_EQ(cask_scope_close(&sc, cask_sleep(1)), 0);
    /* a group on this stack, with compact children; cask_group_start */
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    static double secs[3] = {0.001, 0.06, 0.03}; /* read by the children: not on this stack */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_group_spawn_with(&g, NULL, sleeper_for, &secs[i], &compact), 0);
    void *v = NULL;
    CHECK_EQ(cask_group_start(&g, NULL, group_child_start, NULL, &v), 0);
    CHECK_EQ((intptr_t)v, 5);
    CHECK_EQ(cask_group_size(&g), 4);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    CHECK_EQ(cask_group_size(&g), 0);
    /* gather and wait with the task list and the statuses on this stack */
    cask_task *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn_with(&t[i], sleeper_for, &secs[i], &compact), 0);
    size_t ndone = 0;
    CHECK_EQ(cask_wait(t, 3, CASK_FIRST_COMPLETED, INFINITY, &ndone), 0);
    CHECK_EQ(ndone, 1);
    int st[3] = {0, 0, 0};
    CHECK_EQ(cask_gather(t, 3, st), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(st[i], 7);
        cask_release(t[i]);
    }
    /* a group cancelled from outside while its owner waits in close */
    CHECK_EQ(cask_group_open(&g), 0);
    static double forever = 100;
    CHECK_EQ(cask_group_spawn_with(&g, NULL, sleeper_for, &forever, &compact), 0);
    CHECK_EQ(cask_group_cancel(&g), 0);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    *out = 1;
    return 0;
}

static int cancel_me(void *p)
{
    int *stage = p;
    *stage = 1;
    int rc = cask_sleep(10);
    *stage = rc == -ECANCELED ? 2 : 3;
    return rc;
}

static int scopes_main(void *arg)
{
    (void)arg;
    int done[2] = {0, 0};
    cask_task *a = spawn_c(scoped_task, &done[0], "scoped");
    cask_task *b = spawn_c(scoped_task, &done[1], "scoped2");
    int stage = 0;
    cask_task *c = spawn_c(cancel_me, &stage, "victim");
    CHECK_EQ(cask_sleep(0.001), 0);
    CHECK_EQ(stage, 1);
    CHECK(cask_cancel(c));
    CHECK_EQ(join_release(c), -ECANCELED);
    CHECK_EQ(stage, 2);
    CHECK_EQ(join_release(a), 0);
    CHECK_EQ(join_release(b), 0);
    CHECK(done[0] && done[1]);
    return 0;
}

TEST(compact_scopes_groups_cancel) { CHECK_EQ(cask_run(scopes_main, NULL), 0); }

/* A scope or group struct holds anything before its first open; here, the bytes of another
 * one that is open (boxed, on a compact task). Opening it must work, and opening the open one
 * again must still be refused. */
static int garbage_nap(void *arg)
{
    (void)arg;
    return cask_sleep(0.001);
}

static int garbage_body(void *arg)
{
    (void)arg;
    cask_group a, b;
    CHECK_EQ(cask_group_open(&a), 0);
    memcpy(&b, &a, sizeof b);
    CHECK_EQ(cask_group_open(&b), 0);
    CHECK_EQ(cask_group_open(&a), -EINVAL);
    CHECK_EQ(cask_group_open(&b), -EINVAL);
    CHECK_EQ(cask_group_spawn(&b, NULL, garbage_nap, NULL), 0);
    CHECK_EQ(cask_group_close(&b, 0), 0);
    CHECK_EQ(cask_group_close(&a, 0), 0);
    cask_scope s1, s2;
    CHECK_EQ(cask_timeout_open(&s1, 10), 0);
    memcpy(&s2, &s1, sizeof s2);
    CHECK_EQ(cask_timeout_open(&s2, 0.001), 0);
    CHECK_EQ(cask_timeout_open(&s1, 10), -EINVAL);
    CHECK_EQ(cask_timeout_open(&s2, 10), -EINVAL);
    CHECK_EQ(cask_sleep(1), -ECANCELED);
    CHECK_EQ(cask_scope_close(&s2, -ECANCELED), -ETIMEDOUT);
    CHECK_EQ(cask_scope_close(&s1, 0), 0);
    return 0;
}

static int garbage_main(void *arg)
{
    (void)arg;
    CHECK_EQ(join_release(spawn_c(garbage_body, NULL, "compact")), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, garbage_body, NULL), 0); /* and an ordinary task */
    CHECK_EQ(join_release(t), 0);
    return 0;
}

TEST(compact_open_over_stale_bytes) { CHECK_EQ(cask_run(garbage_main, NULL), 0); }

/* ---- mixed: compact and ordinary tasks in one loop, eager spawns both ways ---- */

static int mixed_leaf(void *p)
{
    int *n = p;
    volatile char pad[500];
    pad[0] = 1;
    for (int i = 0; i < 20; i++)
        CHECK_EQ(cask_sleep(i % 3 ? 0 : 0.0005), 0);
    (*n) += pad[0];
    return 0;
}

static int mixed_spawner(void *p)
{
    int *n = p;
    /* an eager spawn from a compact task: the child runs at once, as an ordinary task */
    struct cask_spawn_opts eo = {.compact = true, .eager = true};
    cask_task *e, *f;
    CHECK_EQ(cask_spawn_with(&e, mixed_leaf, n, &eo), 0);
    CHECK_EQ(cask_spawn_with(&f, mixed_leaf, n, &compact), 0);
    CHECK_EQ(join_release(e), 0);
    CHECK_EQ(join_release(f), 0);
    return 0;
}

static int mixed_main(void *arg)
{
    (void)arg;
    int n = 0;
    cask_task *t[12];
    for (int i = 0; i < 12; i++) {
        struct cask_spawn_opts o = {.compact = i % 2 == 0, .eager = i % 3 == 0};
        CHECK_EQ(cask_spawn_with(&t[i], i % 4 == 1 ? mixed_spawner : mixed_leaf, &n, &o), 0);
    }
    for (int i = 0; i < 12; i++)
        CHECK_EQ(join_release(t[i]), 0);
    CHECK_EQ(n, 9 + 3 * 2);
    return 0;
}

TEST(compact_mixed_with_ordinary) { CHECK_EQ(cask_run(mixed_main, NULL), 0); }

static int loopwide_task(void *p)
{
    (void)p;
    CHECK_EQ(cask_sleep(0.001), 0);
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    return st.compact_bytes_held > 0 ? 1 : 0;
}
static int loopwide_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, loopwide_task, NULL), 0);
    CHECK_EQ(join_release(t), 1); /* a plain spawn made a compact task */
    return 0;
}
TEST(compact_loop_config)
{
    struct cask_config cfg = {.compact_tasks = true};
    CHECK_EQ(cask_run_with(loopwide_main, NULL, &cfg), 0);
}

/* ---- file calls with buffers on the stack, to_thread ---- */

static char tmpdir[64];

static int churn(void *p)
{
    int *stop = p;
    while (!*stop) {
        volatile char junk[2048];
        for (size_t i = 0; i < sizeof junk; i += 64)
            junk[i] = (char)0xAA;
        CHECK_EQ(cask_sleep(0), 0);
    }
    return 0;
}

static int file_task(void *p)
{
    int id = *(int *)p;
    char path[128];
    snprintf(path, sizeof path, "%s/f%d", tmpdir, id);
    int fd = cask_file_open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);
    char out[4000], in[4000];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (char)(i * 7 + id);
    for (int round = 0; round < 5; round++) {
        CHECK_EQ(cask_file_pwrite(fd, out, sizeof out, round * (int64_t)sizeof out), (ssize_t)sizeof out);
        memset(in, 0, sizeof in);
        CHECK_EQ(cask_file_pread(fd, in, sizeof in, round * (int64_t)sizeof out), (ssize_t)sizeof in);
        CHECK(memcmp(in, out, sizeof in) == 0);
    }
    char a[100], b[200];
    struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
    CHECK_EQ(cask_file_readv(fd, iov, 2, 0), 300);
    CHECK(memcmp(a, out, 100) == 0 && memcmp(b, out + 100, 200) == 0);
    CHECK_EQ(cask_file_fsync(fd), 0);
    struct stat st;
    CHECK_EQ(cask_file_stat(path, &st), 0);
    CHECK_EQ(st.st_size, 5 * 4000);
    CHECK_EQ(cask_file_close(fd), 0);
    char to[140];
    snprintf(to, sizeof to, "%s/g%d", tmpdir, id);
    CHECK_EQ(cask_file_rename(path, to), 0);
    CHECK_EQ(cask_file_unlink(to), 0);
    return 0;
}

static int add_one(void *p)
{
    int *v = p;
    return *v + 1;
}

static int thread_task(void *p)
{
    (void)p;
    int local = 41;
    CHECK_EQ(cask_to_thread(add_one, &local), -EFAULT); /* on the run stack: refused */
    int *heap = malloc(sizeof *heap);
    *heap = 41;
    CHECK_EQ(cask_to_thread(add_one, heap), 42);
    free(heap);
    return 0;
}

static int files_main(void *arg)
{
    (void)arg;
    int stop = 0, ids[3] = {1, 2, 3};
    cask_task *c1 = spawn_c(churn, &stop, "churn"), *c2 = spawn_c(churn, &stop, "churn2");
    cask_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_c(file_task, &ids[i], NULL);
    cask_task *th = spawn_c(thread_task, NULL, "thread");
    for (int i = 0; i < 3; i++)
        CHECK_EQ(join_release(t[i]), 0);
    CHECK_EQ(join_release(th), 0);
    stop = 1;
    CHECK_EQ(join_release(c1), 0);
    CHECK_EQ(join_release(c2), 0);
    return 0;
}

static void files_with(const char *backend)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cask-compact-XXXXXX");
    CHECK(mkdtemp(tmpdir));
    struct cask_config cfg = {.backend = backend};
    CHECK_EQ(cask_run_with(files_main, NULL, &cfg), 0);
    rmdir(tmpdir);
}

TEST(compact_files_epoll) { files_with("epoll"); }
TEST(compact_files_default_backend) { files_with(NULL); /* the ring where the kernel allows it */ }

/* ---- an object on the waiting compact task's own stack: refused ---- */

static int own_stack_wait(void *p)
{
    (void)p;
    cask_event ev; /* nobody else could reach it once this task is parked */
    cask_event_init(&ev);
    CHECK_EQ(cask_event_wait(&ev), -EFAULT);
    cask_lock lk; /* used by this task alone: fine, it never parks on it */
    cask_lock_init(&lk);
    CHECK_EQ(cask_lock_acquire(&lk), 0);
    CHECK_EQ(cask_lock_release(&lk), 0);
    return 0;
}
static int own_main(void *arg)
{
    (void)arg;
    cask_task *t = spawn_c(own_stack_wait, NULL, NULL);
    CHECK_EQ(join_release(t), 0);
    return 0;
}
TEST(compact_wait_on_own_stack_refused) { CHECK_EQ(cask_run(own_main, NULL), 0); }

/* ---- the overflow of the run stack is named by task ---- */

static volatile int depth_limit = 1 << 30;
int cx_recurse(int n);
int cx_recurse(int n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    if (n >= depth_limit)
        return 0;
    return cx_recurse(n + 1) + buf[0];
}
static int overflow_task(void *p)
{
    (void)p;
    CHECK_EQ(cask_sleep(0), 0);
    return cx_recurse(0);
}
static int overflow_main(void *p)
{
    (void)p;
    cask_task *other = spawn_c(overflow_task, NULL, "bystander");
    cask_release(other);
    depth_limit = 1 << 30;
    cask_task *t = spawn_c(overflow_task, NULL, "compact-diver");
    return cask_join(t);
}

static char *run_child(cask_fn fn, const struct cask_config *cfg, int *status)
{
    static char buf[16384];
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        alarm(10);
        cask_run_with(fn, NULL, cfg);
        _exit(0);
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(pfd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(pfd[0]);
    CHECK_EQ(waitpid(pid, status, 0), pid);
    return buf;
}

TEST(compact_overflow_named)
{
    int st;
    const char *buf = run_child(overflow_main, NULL, &st);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, "cask: task 'bystander' overflowed") ||
          strstr(buf, "cask: task 'compact-diver' overflowed"));
    CHECK(strstr(buf, "cx_recurse"));
}

/* ---- the debug mode names a pointer into a parked compact task's stack ---- */

static int *volatile shared_ptr;

static int lender(void *p)
{
    (void)p;
    int mine = 1;
    shared_ptr = &mine; /* breaks the rule: another task will write here while we sleep */
    CHECK_EQ(cask_sleep(2), 0); /* (the violation ends the process long before) */
    return mine;
}
static int borrower(void *p)
{
    (void)p;
    CHECK_EQ(cask_sleep(0.002), 0);
    *shared_ptr = 2;
    return 0;
}
static int violation_main(void *p)
{
    (void)p;
    cask_task *a = spawn_c(lender, NULL, "lender"), *b = spawn_c(borrower, NULL, "borrower");
    int rb = cask_join(b);
    (void)rb;
    return cask_join(a);
}

TEST(compact_debug_catches_violation)
{
    struct cask_config cfg = {.compact_debug = true};
    int st;
    const char *buf = run_child(violation_main, &cfg, &st);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, "cask: compact debug: task 'borrower' used a pointer into the stack of "
                      "parked compact task 'lender'"));
    CHECK(strstr(buf, "borrower"));
}

/* the same program without the violation runs clean in debug mode */
static int clean_borrower(void *p)
{
    (void)p;
    CHECK_EQ(cask_sleep(0.002), 0);
    return 0;
}
static int debug_clean_main(void *p)
{
    (void)p;
    cask_task *a = spawn_c(clean_borrower, NULL, NULL), *b = spawn_c(scoped_task, &(int){0}, NULL);
    CHECK_EQ(join_release(a), 0);
    CHECK_EQ(join_release(b), 0);
    return 0;
}
TEST(compact_debug_clean_program)
{
    struct cask_config cfg = {.compact_debug = true};
    CHECK_EQ(cask_run_with(debug_clean_main, NULL, &cfg), 0);
}

/* ---- a million compact sleepers ---- */

static int small_sleeper(void *p)
{
    (void)p;
    return cask_sleep(0.5);
}

static int million_main(void *arg)
{
    size_t n = *(size_t *)arg;
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(cask_spawn_with(NULL, small_sleeper, NULL, &compact), 0);
    CHECK_EQ(cask_sleep(0.2), 0); /* all of them started and parked */
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    CHECK(st.tasks_live >= n);
    /* their homes and images: well under a page each */
    CHECK(st.compact_bytes_held / n < 1024);
    CHECK(st.stacks_mapped < 64); /* no stack per task */
    CHECK_EQ(cask_sleep(0.5), 0);
    CHECK_EQ(cask_loop_stats(&st), 0);
    CHECK_EQ(st.tasks_live, 1);
    return 0;
}

TEST_T(compact_million_sleepers, 120)
{
#if defined(__SANITIZE_THREAD__)
    size_t n = 300; /* a ThreadSanitizer fiber per task: its first run costs milliseconds */
#elif defined(__SANITIZE_ADDRESS__)
    size_t n = 50000;
#else
    size_t n = 1000000;
#endif
    CHECK_EQ(cask_run(million_main, &n), 0);
}

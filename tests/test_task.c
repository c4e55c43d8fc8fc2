/*
 * test_task.c: futures, tasks, cancellation, gather and cask_run (CONFORMANCE F1-F2, T1-T2,
 * C1-C7, G1-G5, R1-R2), through the public API on the virtual clock.
 */
#define _GNU_SOURCE
#include "cask_test.h"

#include <unistd.h>

/* ---- helpers ---- */

/* A child that sleeps, logs its name and returns a chosen status. */
struct child {
    const char *name;
    double delay;
    int status;   /* returned after the sleep */
    int sleep_rc; /* what its sleep returned */
    double end;   /* cask_time() when it ended */
};

static int child_fn(void *arg)
{
    struct child *c = arg;
    c->sleep_rc = cask_sleep(c->delay);
    c->end = cask_time();
    if (c->sleep_rc < 0) {
        ct_log("%s:%s", c->name, cask_errname(c->sleep_rc));
        return c->sleep_rc;
    }
    ct_log("%s", c->name);
    return c->status;
}

/* stderr goes to a temporary file between capture_begin and capture_end, which returns how
 * many lines written there contain `needle` (failure reports go to stderr, one line each).
 * Captures nest. */
struct capture {
    int saved;
    FILE *file;
};
static int capture_depth;

static void capture_begin(struct capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    CHECK(c->file != NULL);
    c->saved = dup(2);
    CHECK(c->saved >= 0);
    CHECK(dup2(fileno(c->file), 2) == 2);
    capture_depth++;
}

static int capture_end(struct capture *c, const char *needle)
{
    char text[4096];
    fflush(stderr);
    CHECK(dup2(c->saved, 2) == 2);
    close(c->saved);
    rewind(c->file);
    size_t n = fread(text, 1, sizeof text - 1, c->file);
    text[n] = 0;
    fclose(c->file);
    int count = 0;
    capture_depth--;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, needle))
            count++;
        else if (capture_depth == 0)
            fprintf(stderr, "%s\n", line); /* anything else (a failed CHECK) is still shown */
    }
    return count;
}

/* ---- F1: futures ---- */

static int f1_main(void *arg)
{
    (void)arg;
    cask_future *f;
    void *v = NULL;
    int one = 1, two = 2;
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK(!cask_future_done(f));
    CHECK_EQ(cask_future_result(f, &v), -EAGAIN); /* result of a pending future */
    CHECK_EQ(cask_future_set_result(f, &one), 0);
    CHECK_EQ(cask_future_set_result(f, &two), -EINVAL); /* a second set_result */
    CHECK_EQ(cask_future_set_error(f, -EIO), -EINVAL);
    CHECK(!cask_future_cancel(f)); /* cancel of a done future */
    CHECK(cask_future_done(f));
    CHECK(!cask_future_cancelled(f));
    CHECK_EQ(cask_future_await(f, &v), 0);
    CHECK(v == &one);
    v = NULL;
    CHECK_EQ(cask_future_await(f, &v), 0); /* awaited twice: the same value */
    CHECK(v == &one);
    cask_future_free(f);

    /* an error status is given back to every await, and set_error wants a negative status */
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK_EQ(cask_future_set_error(f, 5), -EINVAL);
    CHECK_EQ(cask_future_set_error(f, -EIO), 0);
    CHECK_EQ(cask_future_await(f, &v), -EIO);
    CHECK_EQ(cask_future_await(f, &v), -EIO);
    cask_future_free(f);

    /* a cancelled one */
    CHECK_EQ(cask_future_new(&f), 0);
    CHECK(cask_future_cancel(f));
    CHECK(cask_future_cancelled(f));
    CHECK_EQ(cask_future_await(f, &v), -ECANCELED);
    CHECK_EQ(cask_future_set_result(f, &one), -EINVAL);
    cask_future_free(f);
    return 0;
}
TEST(f1_future_states) { CHECK_EQ(ct_run_virtual(f1_main, NULL), 0); }

/* A task that waits on a future gets the value set later. */
struct setter {
    cask_future *f;
    void *value;
};
static int setter_fn(void *arg)
{
    struct setter *s = arg;
    CHECK_EQ(cask_sleep(0.5), 0);
    return cask_future_set_result(s->f, s->value);
}
static int f1_wait_main(void *arg)
{
    (void)arg;
    int x = 7;
    struct setter s = {NULL, &x};
    CHECK_EQ(cask_future_new(&s.f), 0);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, setter_fn, &s), 0);
    double t0 = cask_time();
    void *v = NULL;
    CHECK_EQ(cask_future_await(s.f, &v), 0);
    CHECK(v == &x);
    CHECK_NEAR(cask_time() - t0, 0.5, 1e-9);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    cask_future_free(s.f);
    return 0;
}
TEST(f1_future_await_pending) { CHECK_EQ(ct_run_virtual(f1_wait_main, NULL), 0); }

/* ---- F2: failures nobody read are reported once; cancelled ones are not ---- */

#define REPORT "failed and nobody read its status"

static int fail_fn(void *arg)
{
    (void)arg;
    return CASK_EUSER - 7;
}

static int cancelled_fn(void *arg)
{
    (void)arg;
    return cask_sleep(10);
}

struct f2 {
    int reports; /* seen inside the loop (checked after the outer capture ends) */
};

static int f2_task_main(void *arg)
{
    struct f2 *r = arg;
    cask_task *failed, *joined, *cancelled, *kept;
    CHECK_EQ(cask_spawn(&failed, fail_fn, NULL), 0);
    CHECK_EQ(cask_spawn(&joined, fail_fn, NULL), 0);
    CHECK_EQ(cask_spawn(&cancelled, cancelled_fn, NULL), 0);
    CHECK_EQ(cask_spawn(&kept, fail_fn, NULL), 0); /* never released: reported at close */
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_cancel(cancelled));
    CHECK_EQ(cask_join(joined), CASK_EUSER - 7);
    CHECK_EQ(cask_join(cancelled), -ECANCELED);
    CHECK(cask_task_done(failed));
    struct capture cap;
    capture_begin(&cap);
    cask_release(failed);
    cask_release(joined);
    cask_release(cancelled);
    r->reports = capture_end(&cap, REPORT);
    return 0;
}
TEST(f2_task_failure_reported_once)
{
    struct f2 r = {0};
    struct capture cap;
    capture_begin(&cap);
    CHECK_EQ(ct_run_virtual(f2_task_main, &r), 0);
    int at_close = capture_end(&cap, REPORT);
    CHECK_EQ(r.reports, 1); /* "failed" only: not the joined one, not the cancelled one */
    CHECK_EQ(at_close, 1);  /* "kept" only, when the loop closed: "failed" not again */
}

static int f2_detached_main(void *arg)
{
    struct f2 *r = arg;
    cask_task *released;
    CHECK_EQ(cask_spawn(NULL, fail_fn, NULL), 0);
    CHECK_EQ(cask_spawn(NULL, cancelled_fn, NULL), 0);
    CHECK_EQ(cask_spawn(&released, fail_fn, NULL), 0);
    cask_release(released); /* before it ran: detached, so reported when it ends */
    struct capture cap;
    capture_begin(&cap);
    CHECK_EQ(cask_yield(), 0);
    r->reports = capture_end(&cap, REPORT);
    return 0;
}
TEST(f2_detached_failure_reported_when_it_ends)
{
    struct f2 r = {0};
    struct capture cap;
    capture_begin(&cap);
    CHECK_EQ(ct_run_virtual(f2_detached_main, &r), 0);
    CHECK_EQ(capture_end(&cap, REPORT), 0); /* the cancelled one, at close: not reported */
    CHECK_EQ(r.reports, 2);                 /* the failed ones, as they ended */
}

static int f2_future_main(void *arg)
{
    struct f2 *r = arg;
    cask_future *unread, *read, *cancelled, *kept;
    CHECK_EQ(cask_future_new(&unread), 0);
    CHECK_EQ(cask_future_new(&read), 0);
    CHECK_EQ(cask_future_new(&cancelled), 0);
    CHECK_EQ(cask_future_new(&kept), 0);
    CHECK_EQ(cask_future_set_error(unread, -EIO), 0);
    CHECK_EQ(cask_future_set_error(read, -EIO), 0);
    CHECK_EQ(cask_future_set_error(kept, -EIO), 0);
    CHECK_EQ(cask_future_result(read, NULL), -EIO);
    CHECK(cask_future_cancel(cancelled));
    struct capture cap;
    capture_begin(&cap);
    cask_future_free(unread);
    cask_future_free(read);
    cask_future_free(cancelled);
    r->reports = capture_end(&cap, "future '");
    return 0; /* kept is left to the loop */
}
TEST(f2_future_failure_reported_once)
{
    struct f2 r = {0};
    struct capture cap;
    capture_begin(&cap);
    CHECK_EQ(ct_run_virtual(f2_future_main, &r), 0);
    CHECK_EQ(capture_end(&cap, "future '"), 1); /* kept, at close */
    CHECK_EQ(r.reports, 1);                     /* unread, when freed */
}

/* ---- T1, T2 ---- */

static int t1_self_join(void *arg)
{
    (void)arg;
    cask_task *self = cask_current();
    CHECK(self != NULL);
    CHECK_EQ(cask_join(self), -EDEADLK);
    CHECK_EQ(cask_gather(&self, 1, NULL), -EDEADLK);
    return 0;
}
static int t1_main(void *arg)
{
    (void)arg;
    CHECK_EQ(t1_self_join(NULL), 0); /* main itself */
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, t1_self_join, NULL), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    CHECK_EQ(cask_join(NULL), -EINVAL);
    return 0;
}
TEST(t1_join_self_edeadlk) { CHECK_EQ(ct_run_virtual(t1_main, NULL), 0); }

struct t2 {
    cask_task *me;
    int checks;
};
static int t2_worker(void *arg)
{
    struct t2 *w = arg;
    for (int i = 0; i < 3; i++) {
        CHECK(cask_current() == w->me);
        w->checks++;
        CHECK_EQ(cask_sleep(0.01 * (double)(1 + (w->checks % 2))), 0);
        CHECK(cask_current() == w->me);
        CHECK_EQ(cask_yield(), 0);
    }
    return 0;
}
static void t2_cb(void *arg)
{
    CHECK(cask_current() == NULL); /* callbacks run outside any task */
    (*(int *)arg)++;
}
static int t2_main(void *arg)
{
    (void)arg;
    struct t2 w[3] = {{0}};
    cask_task *t[3];
    cask_task *self = cask_current();
    CHECK(self != NULL);
    CHECK_EQ(cask_task_id(self), 1);
    CHECK_STR(cask_task_name(self), "Task-1");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cask_spawn(&t[i], t2_worker, &w[i]), 0);
        w[i].me = t[i];
    }
    int calls = 0;
    CHECK_EQ(cask_call_soon(NULL, t2_cb, &calls), 0);
    CHECK_EQ(cask_call_later(NULL, 0.015, t2_cb, &calls), 0);
    CHECK_EQ(cask_gather(t, 3, NULL), 0);
    CHECK(cask_current() == self);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(w[i].checks, 3);
        cask_release(t[i]);
    }
    CHECK_EQ(calls, 2);
    return 0;
}
TEST(t2_current_task)
{
    CHECK(cask_current() == NULL);
    CHECK_EQ(ct_run_virtual(t2_main, NULL), 0);
    CHECK(cask_current() == NULL);
}

/* ---- C1-C7: cancellation ---- */

static int c1_main(void *arg)
{
    (void)arg;
    struct child c = {"c", 10, 0, 0, 0};
    cask_task *t;
    double t0 = cask_time();
    CHECK_EQ(cask_spawn(&t, child_fn, &c), 0);
    CHECK_EQ(cask_yield(), 0); /* it starts sleeping */
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK_NEAR(cask_time() - t0, 0, 1e-9);
    CHECK_EQ(c.sleep_rc, -ECANCELED);
    CHECK(cask_task_done(t));
    CHECK(cask_task_cancelled(t));
    CHECK(!cask_cancel(t)); /* cancel again: already ended */
    int st = 0;
    CHECK_EQ(cask_task_status(t, &st), 0);
    CHECK_EQ(st, -ECANCELED);
    cask_release(t);
    CHECK_LOG("c:ECANCELED");
    return 0;
}
TEST(c1_cancel_sleeping_task) { CHECK_EQ(ct_run_virtual(c1_main, NULL), 0); }

static int c2_main(void *arg)
{
    (void)arg;
    struct child c = {"c", 0, 0, 0, 0};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, child_fn, &c), 0);
    CHECK(cask_cancel(t)); /* before its first run */
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK(cask_task_cancelled(t));
    cask_release(t);
    CHECK_LOG(""); /* the body never ran */
    return 0;
}
TEST(c2_cancel_before_start) { CHECK_EQ(ct_run_virtual(c2_main, NULL), 0); }

struct c3 {
    int result;
};
static int c3_child(void *arg)
{
    struct c3 *r = arg;
    int rc = cask_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(cask_uncancel(cask_current()), 0); /* acknowledged */
    CHECK_EQ(cask_sleep(0.1), 0);               /* it may block again */
    r->result = 42;
    return 0;
}
static int c3_positive(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sleep(10), -ECANCELED);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    return 42;
}
static int c3_main(void *arg)
{
    (void)arg;
    struct c3 r = {0};
    cask_task *t, *u;
    CHECK_EQ(cask_spawn(&t, c3_child, &r), 0);
    CHECK_EQ(cask_spawn(&u, c3_positive, NULL), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_cancel(t));
    CHECK(cask_cancel(u));
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(r.result, 42);
    CHECK(!cask_task_cancelled(t));
    CHECK_EQ(cask_join(u), 42); /* a positive status is a success too */
    CHECK(!cask_task_cancelled(u));
    cask_release(t);
    cask_release(u);
    return 0;
}
TEST(c3_uncancel_and_return) { CHECK_EQ(ct_run_virtual(c3_main, NULL), 0); }

struct c4 {
    int second_rc;
    double second_dt;
};
static int c4_child(void *arg)
{
    struct c4 *r = arg;
    int rc = cask_sleep(10); /* -ECANCELED, ignored without uncancel */
    CHECK_EQ(rc, -ECANCELED);
    double t0 = cask_time();
    r->second_rc = cask_sleep(5);
    r->second_dt = cask_time() - t0;
    CHECK_EQ(cask_yield(), -ECANCELED);
    CHECK_EQ(cask_cancelling(cask_current()), 1);
    return 0;
}
static int c4_main(void *arg)
{
    (void)arg;
    struct c4 r = {0, -1};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, c4_child, &r), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_cancel(t));
    int rc = cask_join(t);
    CHECK_EQ(r.second_rc, -ECANCELED); /* sticky: at once */
    CHECK_NEAR(r.second_dt, 0, 1e-9);
    CHECK_EQ(rc, 0); /* it swallowed the cancellation and returned normally */
    cask_release(t);
    return 0;
}
TEST(c4_sticky_cancellation) { CHECK_EQ(ct_run_virtual(c4_main, NULL), 0); }

static int c5_child(void *arg)
{
    (void)arg;
    CHECK(cask_cancel(cask_current()));
    ct_log("after self-cancel");
    return 0;
}
static int c5_main(void *arg)
{
    (void)arg;
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, c5_child, NULL), 0);
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK(cask_task_cancelled(t));
    cask_release(t);
    CHECK_LOG("after self-cancel");
    return 0;
}
TEST(c5_self_cancel_ends_cancelled) { CHECK_EQ(ct_run_virtual(c5_main, NULL), 0); }

struct c6 {
    cask_future *f;
    cask_task *inner;
    int inner_rc, outer_rc;
};
static int c6_inner(void *arg)
{
    struct c6 *s = arg;
    s->inner_rc = cask_future_await(s->f, NULL);
    return s->inner_rc;
}
static int c6_outer(void *arg)
{
    struct c6 *s = arg;
    CHECK_EQ(cask_spawn(&s->inner, c6_inner, s), 0);
    s->outer_rc = cask_join(s->inner);
    return s->outer_rc;
}
static int c6_main(void *arg)
{
    (void)arg;
    struct c6 s = {0};
    CHECK_EQ(cask_future_new(&s.f), 0);
    cask_task *outer;
    CHECK_EQ(cask_spawn(&outer, c6_outer, &s), 0);
    CHECK_EQ(cask_sleep(0.1), 0); /* outer joins inner, inner awaits f */
    CHECK(!cask_future_done(s.f));
    CHECK(cask_cancel(outer));
    CHECK_EQ(cask_join(outer), -ECANCELED);
    CHECK(cask_future_cancelled(s.f)); /* the cancellation reached down to the future */
    CHECK_EQ(s.inner_rc, -ECANCELED);
    CHECK_EQ(s.outer_rc, -ECANCELED);
    CHECK(cask_task_cancelled(s.inner));
    CHECK(cask_task_cancelled(outer));
    cask_release(s.inner);
    cask_release(outer);
    cask_future_free(s.f);
    return 0;
}
TEST(c6_cancel_reaches_down_the_chain) { CHECK_EQ(ct_run_virtual(c6_main, NULL), 0); }

static int c7_main(void *arg)
{
    (void)arg;
    struct child c = {"c", 1, 0, 0, 0};
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, child_fn, &c), 0);
    CHECK_EQ(cask_cancelling(t), 0);
    CHECK(cask_cancel(t));
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_cancelling(t), 2);
    CHECK_EQ(cask_uncancel(t), 1);
    CHECK_EQ(cask_cancelling(t), 1);
    CHECK_EQ(cask_join(t), -ECANCELED);
    CHECK_EQ(cask_uncancel(t), 0); /* ended: nothing changes */
    CHECK_EQ(cask_cancelling(t), 1);
    CHECK(cask_task_cancelled(t));
    cask_release(t);

    /* uncancelling every request makes the task's blocking calls work again */
    CHECK_EQ(cask_spawn(&t, child_fn, &c), 0);
    CHECK(cask_cancel(t));
    CHECK(cask_cancel(t));
    CHECK_EQ(cask_uncancel(t), 1);
    CHECK_EQ(cask_uncancel(t), 0);
    CHECK_EQ(cask_uncancel(t), 0);
    CHECK_EQ(cask_join(t), 0);
    CHECK_EQ(c.sleep_rc, 0);
    cask_release(t);
    CHECK_LOG("c");
    return 0;
}
TEST(c7_cancel_counts) { CHECK_EQ(ct_run_virtual(c7_main, NULL), 0); }

/* ---- G1-G5: gather ---- */

static int g1_main(void *arg)
{
    (void)arg;
    struct child c[3] = {{"a", 0.3, 10, 0, 0}, {"b", 0.1, 11, 0, 0}, {"c", 0.2, 12, 0, 0}};
    cask_task *t[3];
    int st[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], child_fn, &c[i]), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_gather(t, 3, st), 0);
    CHECK_NEAR(cask_time() - t0, 0.3, 1e-9);
    CHECK_LOG("b,c,a");  /* finishing order */
    CHECK_EQ(st[0], 10); /* statuses in argument order */
    CHECK_EQ(st[1], 11);
    CHECK_EQ(st[2], 12);
    /* without statuses: 0 when all succeed; gathering finished tasks returns at once */
    CHECK_EQ(cask_gather(t, 3, NULL), 0);
    CHECK_EQ(cask_gather(NULL, 0, NULL), 0);
    CHECK_EQ(cask_gather(NULL, 1, NULL), -EINVAL);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    return 0;
}
TEST(g1_gather_argument_order) { CHECK_EQ(ct_run_virtual(g1_main, NULL), 0); }

static int g2_main(void *arg)
{
    (void)arg;
    struct child c[3] = {
        {"a", 0.2, 0, 0, 0}, {"b", 0.1, CASK_EUSER - 2, 0, 0}, {"c", 0.3, CASK_EUSER - 3, 0, 0}};
    cask_task *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], child_fn, &c[i]), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_gather(t, 3, NULL), CASK_EUSER - 2); /* the first failure, at once */
    CHECK_NEAR(cask_time() - t0, 0.1, 1e-9);
    CHECK(!cask_task_done(t[0]));
    CHECK(!cask_task_done(t[2]));
    CHECK_EQ(cask_join(t[0]), 0); /* the siblings keep running and finish */
    CHECK_EQ(cask_join(t[2]), CASK_EUSER - 3);
    CHECK_NEAR(c[0].end - t0, 0.2, 1e-9);
    CHECK_NEAR(c[2].end - t0, 0.3, 1e-9);
    CHECK_LOG("b,a,c");
    /* a gather over tasks already finished returns the first failure in argument order */
    CHECK_EQ(cask_gather(t, 3, NULL), CASK_EUSER - 2);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    return 0;
}
TEST(g2_gather_first_error) { CHECK_EQ(ct_run_virtual(g2_main, NULL), 0); }

static int g3_main(void *arg)
{
    (void)arg;
    struct child c[3] = {
        {"a", 0.2, 4, 0, 0}, {"b", 0.1, CASK_EUSER - 2, 0, 0}, {"c", 0.3, 0, 0, 0}};
    cask_task *t[3];
    int st[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], child_fn, &c[i]), 0);
    double t0 = cask_time();
    CHECK_EQ(cask_gather(t, 3, st), 0); /* waits for all */
    CHECK_NEAR(cask_time() - t0, 0.3, 1e-9);
    CHECK_EQ(st[0], 4);
    CHECK_EQ(st[1], CASK_EUSER - 2);
    CHECK_EQ(st[2], 0);
    struct capture cap;
    capture_begin(&cap); /* the failure was read by the gather: no report */
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    CHECK_EQ(capture_end(&cap, REPORT), 0);
    return 0;
}
TEST(g3_gather_return_exceptions) { CHECK_EQ(ct_run_virtual(g3_main, NULL), 0); }

static void cancel_cb(void *task) { CHECK(cask_cancel(task)); }
static int g4_main(void *arg)
{
    (void)arg;
    struct child c[3] = {{"a", 0.2, 0, 0, 0}, {"b", 0.5, 0, 0, 0}, {"c", 0.3, 0, 0, 0}};
    cask_task *t[3];
    int st[3] = {1, 1, 1};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], child_fn, &c[i]), 0);
    CHECK_EQ(cask_call_later(NULL, 0.1, cancel_cb, t[1]), 0);
    CHECK_EQ(cask_gather(t, 3, st), 0);
    CHECK_EQ(st[0], 0);
    CHECK_EQ(st[1], -ECANCELED);
    CHECK_EQ(st[2], 0);
    CHECK_EQ(cask_cancelling(cask_current()), 0); /* the gather itself was not cancelled */
    CHECK_EQ(cask_sleep(0.1), 0);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);

    /* without statuses the cancelled child counts as the first failure */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&t[i], child_fn, &c[i]), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK(cask_cancel(t[2]));
    CHECK_EQ(cask_gather(t, 3, NULL), -ECANCELED);
    CHECK_EQ(cask_cancelling(cask_current()), 0);
    CHECK_EQ(cask_gather(t, 3, st), 0); /* the others are still there to be waited for */
    CHECK_EQ(st[0], 0);
    CHECK_EQ(st[1], 0);
    CHECK_EQ(st[2], -ECANCELED);
    for (int i = 0; i < 3; i++)
        cask_release(t[i]);
    CHECK_LOG("b:ECANCELED,a,c,c:ECANCELED,a,b");
    return 0;
}
TEST(g4_gather_child_cancelled) { CHECK_EQ(ct_run_virtual(g4_main, NULL), 0); }

struct g5 {
    cask_task *t[3];
    int rc;
};
static int g5_gatherer(void *arg)
{
    struct g5 *g = arg;
    g->rc = cask_gather(g->t, 3, NULL);
    return g->rc;
}
static int g5_main(void *arg)
{
    (void)arg;
    struct child c[3] = {{"a", 0.1, 0, 0, 0}, {"b", 1, 0, 0, 0}, {"c", 2, 0, 0, 0}};
    struct g5 g = {{NULL}, 1};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cask_spawn(&g.t[i], child_fn, &c[i]), 0);
    cask_task *w;
    CHECK_EQ(cask_spawn(&w, g5_gatherer, &g), 0);
    CHECK_EQ(cask_sleep(0.5), 0); /* a has finished; b and c are sleeping */
    double t0 = cask_time();
    CHECK(cask_cancel(w));
    CHECK_EQ(cask_join(w), -ECANCELED);
    CHECK_NEAR(cask_time() - t0, 0, 1e-9);
    CHECK_EQ(g.rc, -ECANCELED);
    CHECK(!cask_task_cancelled(g.t[0])); /* finished before: untouched */
    CHECK(cask_task_cancelled(g.t[1]));  /* every unfinished child was cancelled... */
    CHECK(cask_task_cancelled(g.t[2]));  /* ...and had ended when the gather returned */
    CHECK_LOG("a,b:ECANCELED,c:ECANCELED");
    for (int i = 0; i < 3; i++)
        cask_release(g.t[i]);
    cask_release(w);
    return 0;
}
TEST(g5_cancel_gather_cancels_children) { CHECK_EQ(ct_run_virtual(g5_main, NULL), 0); }

/* ---- R1, R2: cask_run ---- */

static int r1_child(void *arg)
{
    (void)arg;
    int rc = cask_sleep(100);
    ct_log("unwinding %s", cask_errname(rc));
    CHECK_EQ(cask_sleep(1), -ECANCELED); /* still cancelled while it unwinds */
    return CASK_EUSER - 9;               /* an error raised while unwinding */
}
static int r1_quiet(void *arg)
{
    (void)arg;
    int rc = cask_sleep(100);
    ct_log("quiet %s", cask_errname(rc));
    return rc;
}
static int r1_main(void *arg)
{
    (void)arg;
    cask_task *kept;
    CHECK_EQ(cask_spawn(NULL, r1_child, NULL), 0);
    CHECK_EQ(cask_spawn(&kept, r1_quiet, NULL), 0);
    CHECK_EQ(cask_sleep(1), 0);
    ct_log("main returns");
    return 7; /* the handle to kept is left for cask_run to clean up */
}
TEST(r1_run_cancels_leftovers)
{
    struct capture cap;
    capture_begin(&cap);
    double t0 = cask_time();
    CHECK_EQ(ct_run_virtual(r1_main, NULL), 7);
    CHECK(cask_time() - t0 < 0.5); /* virtual clock: no real waiting for the 100 s sleeps */
    CHECK_EQ(capture_end(&cap, REPORT), 1); /* the error raised while unwinding */
    CHECK_LOG("main returns,unwinding ECANCELED,quiet ECANCELED");
    CHECK(cask_loop_current() == NULL);
}

static int r1_fail_main(void *arg)
{
    (void)arg;
    return CASK_EUSER - 1;
}
TEST(r1_run_returns_failure)
{
    struct capture cap;
    capture_begin(&cap);
    CHECK_EQ(ct_run_virtual(r1_fail_main, NULL), CASK_EUSER - 1);
    CHECK_EQ(capture_end(&cap, REPORT), 0); /* main's status is returned, not reported */
}

static int r2_inner(void *arg)
{
    (void)arg;
    ct_log("inner ran");
    return 0;
}
static void r2_cb(void *arg) { *(int *)arg = cask_run(r2_inner, NULL); }
static int r2_main(void *arg)
{
    (void)arg;
    cask_loop *l = cask_loop_current();
    CHECK(l != NULL);
    CHECK_EQ(cask_run(r2_inner, NULL), -EBUSY);
    int cb_rc = 0;
    CHECK_EQ(cask_call_soon(NULL, r2_cb, &cb_rc), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cb_rc, -EBUSY);
    CHECK(cask_loop_current() == l); /* the running loop is unharmed */
    CHECK_EQ(cask_sleep(0.1), 0);
    return 0;
}
TEST(r2_run_inside_loop_ebusy)
{
    CHECK_EQ(ct_run_virtual(r2_main, NULL), 0);
    CHECK_LOG("");
    CHECK_EQ(cask_run(r2_inner, NULL), 0); /* and a new loop can run afterwards */
    CHECK_LOG("inner ran");
}

/* ---- task state, names and misuse ---- */

struct cb_join {
    cask_task *t;
    int rc;
};
static void join_cb(void *arg)
{
    struct cb_join *j = arg;
    j->rc = cask_join(j->t); /* not in a task: only a finished task can be "joined" here */
}
static int state_main(void *arg)
{
    (void)arg;
    struct child c = {"c", 0.1, 3, 0, 0};
    struct cask_spawn_opts o = {.name = "fetch"};
    cask_task *t, *u;
    CHECK_EQ(cask_spawn_with(&t, child_fn, &c, &o), 0);
    CHECK_EQ(cask_spawn(&u, child_fn, &c), 0);
    CHECK_STR(cask_task_name(t), "fetch");
    CHECK_STR(cask_task_name(u), "Task-3");
    CHECK_EQ(cask_task_id(t), 2);
    CHECK_EQ(cask_task_set_name(u, "a-name-longer-than-thirty-one-bytes"), 0);
    CHECK_STR(cask_task_name(u), "a-name-longer-than-thirty-one-b");
    int st = 99;
    CHECK_EQ(cask_task_status(t, &st), -EAGAIN); /* InvalidStateError: not done */
    CHECK_EQ(st, 99);
    CHECK(!cask_task_done(t));
    struct cb_join j = {t, 0};
    CHECK_EQ(cask_call_soon(NULL, join_cb, &j), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(j.rc, -EPERM);                /* a callback cannot wait */
    CHECK_EQ(cask_gather(&t, 1, NULL), 0); /* a positive status is a success */
    CHECK(cask_task_done(t));
    CHECK_EQ(cask_task_status(t, &st), 0);
    CHECK_EQ(st, 3);
    CHECK_EQ(cask_call_soon(NULL, join_cb, &j), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(j.rc, 3); /* finished: its status, from anywhere */
    CHECK_EQ(cask_join(u), 3);
    CHECK_EQ(cask_task_status(NULL, &st), -EINVAL);
    cask_release(t);
    cask_release(u);
    cask_release(NULL);
    return 0;
}
TEST(task_state_names_misuse)
{
    CHECK_EQ(ct_run_virtual(state_main, NULL), 0);
    cask_task *none = NULL;
    CHECK_EQ(cask_gather(&none, 0, NULL), -EPERM); /* outside a task */
}

/* await task, cancelled: the child is cancelled and waited for; its status is the result. */
static int stubborn_child(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sleep(10), -ECANCELED);
    CHECK_EQ(cask_uncancel(cask_current()), 0);
    CHECK_EQ(cask_sleep(0.1), 0); /* cleanup that takes time */
    return 5;
}
struct stubborn {
    int join_rc, next_rc;
    double join_end;
};
static int stubborn_parent(void *arg)
{
    struct stubborn *s = arg;
    cask_task *c;
    CHECK_EQ(cask_spawn(&c, stubborn_child, NULL), 0);
    s->join_rc = cask_join(c);
    s->join_end = cask_time();
    s->next_rc = cask_sleep(1); /* the parent's own cancellation is still pending */
    cask_release(c);
    return s->next_rc;
}
static int join_cancel_main(void *arg)
{
    (void)arg;
    struct stubborn s = {0, 0, 0};
    cask_task *p;
    CHECK_EQ(cask_spawn(&p, stubborn_parent, &s), 0);
    CHECK_EQ(cask_sleep(0.5), 0);
    double t0 = cask_time();
    CHECK(cask_cancel(p));
    CHECK_EQ(cask_join(p), -ECANCELED);
    CHECK_EQ(s.join_rc, 5);
    CHECK_NEAR(s.join_end - t0, 0.1, 1e-9);
    CHECK_EQ(s.next_rc, -ECANCELED);
    cask_release(p);
    return 0;
}
TEST(join_cancelled_waits_for_child) { CHECK_EQ(ct_run_virtual(join_cancel_main, NULL), 0); }

/* A future completed and freed at once by its owner: its waiters still get the outcome, and
 * an error handed to a waiter counts as read. */
struct early_free {
    cask_future *f;
    int rc;
};
static int early_free_waiter(void *arg)
{
    struct early_free *e = arg;
    e->rc = cask_future_await(e->f, NULL);
    return 0;
}
static int early_free_main(void *arg)
{
    struct f2 *r = arg;
    struct early_free e[2] = {{NULL, 1}, {NULL, 1}};
    cask_task *t[2];
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(cask_future_new(&e[i].f), 0);
        CHECK_EQ(cask_spawn(&t[i], early_free_waiter, &e[i]), 0);
    }
    CHECK_EQ(cask_yield(), 0); /* both wait */
    struct capture cap;
    capture_begin(&cap);
    CHECK_EQ(cask_future_set_error(e[0].f, -EIO), 0);
    cask_future_free(e[0].f);
    CHECK_EQ(cask_future_set_result(e[1].f, NULL), 0);
    cask_future_free(e[1].f);
    CHECK_EQ(cask_gather(t, 2, NULL), 0);
    r->reports = capture_end(&cap, "future '");
    CHECK_EQ(e[0].rc, -EIO);
    CHECK_EQ(e[1].rc, 0);
    for (int i = 0; i < 2; i++)
        cask_release(t[i]);
    return 0;
}
TEST(f2_future_freed_after_completion)
{
    struct f2 r = {0};
    CHECK_EQ(ct_run_virtual(early_free_main, &r), 0);
    CHECK_EQ(r.reports, 0);
}

/* More than 16 tasks: gather's per-task waiters are allocated instead of on the stack. */
#define NBIG 40
static int big_child(void *arg)
{
    intptr_t i = (intptr_t)arg;
    int rc = cask_sleep(0.001 * (double)(NBIG - i)); /* finish in reverse order */
    return rc < 0 ? rc : (int)i;
}
static int big_gatherer(void *arg) { return cask_gather(arg, NBIG, NULL); }
static int g_big_main(void *arg)
{
    (void)arg;
    cask_task *t[NBIG];
    int st[NBIG];
    for (intptr_t i = 0; i < NBIG; i++)
        CHECK_EQ(cask_spawn(&t[i], big_child, (void *)i), 0);
    CHECK_EQ(cask_gather(t, NBIG, st), 0);
    for (int i = 0; i < NBIG; i++) {
        CHECK_EQ(st[i], i);
        cask_release(t[i]);
    }
    /* and cancelled while gathering: every child is cancelled */
    for (intptr_t i = 0; i < NBIG; i++)
        CHECK_EQ(cask_spawn(&t[i], big_child, (void *)i), 0);
    cask_task *g;
    CHECK_EQ(cask_spawn(&g, big_gatherer, t), 0);
    CHECK_EQ(cask_sleep(0.0105), 0); /* the last 10 have finished */
    CHECK(cask_cancel(g));
    CHECK_EQ(cask_join(g), -ECANCELED);
    for (int i = 0; i < NBIG; i++) {
        CHECK(cask_task_done(t[i]));
        CHECK_EQ(cask_task_cancelled(t[i]), i < NBIG - 10);
        cask_release(t[i]);
    }
    cask_release(g);
    return 0;
}
TEST(g_gather_many_tasks) { CHECK_EQ(ct_run_virtual(g_big_main, NULL), 0); }

/* A cycle of joins (a joins b, b joins a): cancelling one ends both instead of passing the
 * cancellation round the cycle forever. */
static cask_task *cyc[2];
static int cyc_join_other(void *arg)
{
    int i = (int)(intptr_t)arg;
    while (!cyc[1 - i])
        CHECK_EQ(cask_sleep(0), 0);
    return cask_join(cyc[1 - i]);
}
static int join_cycle_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_spawn(&cyc[0], cyc_join_other, (void *)(intptr_t)0), 0);
    CHECK_EQ(cask_spawn(&cyc[1], cyc_join_other, (void *)(intptr_t)1), 0);
    CHECK_EQ(cask_sleep(0.01), 0); /* both are parked, each joining the other */
    CHECK(cask_cancel(cyc[0]));
    CHECK_EQ(cask_join(cyc[0]), -ECANCELED);
    CHECK_EQ(cask_join(cyc[1]), -ECANCELED);
    CHECK(cask_task_done(cyc[1]));
    cask_release(cyc[0]);
    cask_release(cyc[1]);
    cyc[0] = cyc[1] = NULL;
    return 0;
}
TEST(join_cycle_cancel_ends_both) { CHECK_EQ(ct_run_virtual(join_cycle_main, NULL), 0); }

/* A batch of tasks spawned in one go starts in spawn order whatever each one is: a task that
 * ends hands its stack straight to the next never-run task (task.c), unless that one was
 * cancelled before its first run, wants another stack size, or the one ending parked first.
 * Each task sees itself as the current task, with its own name and id. */
static cask_task *chain[6];
static int chain_body(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (chain[i]) /* the detached one (4) has no handle to compare */
        CHECK(cask_current() == chain[i]);
    char want[32];
    snprintf(want, sizeof want, "Task-%llu", (unsigned long long)cask_task_id(cask_current()));
    CHECK_STR(cask_task_name(cask_current()), want);
    ct_log("%c", 'a' + i);
    if (i == 3) { /* parks in the middle of the chain, then ends after the others */
        CHECK_EQ(cask_sleep(0), 0);
        ct_log("d2");
    }
    return i == 5 ? -EIO : i;
}
static int chain_empty(void *arg)
{
    (void)arg;
    return 0;
}
static int chain_main(void *arg)
{
    (void)arg;
    struct cask_spawn_opts big = {.stack_size = 128 * 1024};
    CHECK_EQ(cask_spawn(&chain[0], chain_body, (void *)(intptr_t)0), 0);
    CHECK_EQ(cask_spawn(&chain[1], chain_body, (void *)(intptr_t)1), 0);
    CHECK(cask_cancel(chain[1])); /* before its first run: its body never runs */
    CHECK_EQ(cask_spawn_with(&chain[2], chain_body, (void *)(intptr_t)2, &big), 0);
    CHECK_EQ(cask_spawn(&chain[3], chain_body, (void *)(intptr_t)3), 0);
    CHECK_EQ(cask_spawn(NULL, chain_body, (void *)(intptr_t)4), 0);
    CHECK_EQ(cask_spawn(&chain[5], chain_body, (void *)(intptr_t)5), 0);
    CHECK_EQ(cask_join(chain[0]), 0);
    CHECK_LOG("a,c,d,e,f");
    CHECK_EQ(cask_join(chain[1]), -ECANCELED);
    CHECK_EQ(cask_join(chain[2]), 2);
    CHECK_EQ(cask_join(chain[3]), 3);
    CHECK_LOG("a,c,d,e,f,d2");
    CHECK_EQ(cask_join(chain[5]), -EIO);
    for (int i = 0; i < 6; i++)
        if (chain[i])
            cask_release(chain[i]);
    memset(chain, 0, sizeof chain);
    /* a thousand tasks in one batch: every start is counted as a switch, as before */
    struct cask_loop_stats s0, s1;
    CHECK_EQ(cask_loop_stats(&s0), 0);
    static cask_task *many[1000];
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(cask_spawn(&many[i], chain_empty, NULL), 0);
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(cask_join(many[i]), 0);
        CHECK(cask_task_done(many[i]));
        cask_release(many[i]);
    }
    CHECK_EQ(cask_loop_stats(&s1), 0);
    CHECK(s1.switches - s0.switches >= 1000);
    CHECK_EQ(s1.tasks_live, s0.tasks_live);
    return 0;
}
TEST(spawn_batch_starts_in_order) { CHECK_EQ(ct_run_virtual(chain_main, NULL), 0); }

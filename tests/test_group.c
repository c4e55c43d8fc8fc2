/* test_group.c: task groups (CONFORMANCE TG1-TG8), cancel, start, errors, misuse. */
#define _GNU_SOURCE
#include "cask_test.h"

#define FAIL(n) (CASK_EUSER - (n))

/* A child that logs "<name>:start", sleeps, and logs how it ended; may fail at the end. */
struct kid {
    const char *name;
    double sleep;
    int fail; /* returned after the sleep if not 0 */
    cask_group *spawn_into; /* spawn `extra` into this group after the sleep */
    struct kid *extra;
};

static int kid(void *arg)
{
    struct kid *k = arg;
    ct_log("%s:start", k->name);
    int rc = cask_sleep(k->sleep);
    if (rc < 0) {
        ct_log("%s:%s", k->name, rc == -ECANCELED ? "cancelled" : "err");
        return rc;
    }
    if (k->spawn_into)
        CHECK_EQ(cask_group_spawn(k->spawn_into, NULL, kid, k->extra), 0);
    ct_log("%s:%s", k->name, k->fail ? "fail" : "done");
    return k->fail ? k->fail : 0;
}

/* TG1: close joins every child, also those spawned while it waits and by children. */
static struct kid tg1_late = {"late", 0.5, 0, NULL, NULL};
static struct kid tg1_grand = {"grand", 0.3, 0, NULL, NULL};
static int tg1_spawner(void *arg)
{
    cask_group *g = arg;
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_EQ(cask_group_spawn(g, NULL, kid, &tg1_late), 0); /* while the owner is in close */
    return 0;
}
static int tg1_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    cask_group g;
    struct kid a = {"a", 0.2, 0, &g, &tg1_grand};
    CHECK_EQ(cask_group_open(&g), 0);
    cask_task *ta;
    CHECK_EQ(cask_group_spawn(&g, &ta, kid, &a), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, tg1_spawner, &g), 0);
    CHECK_EQ(cask_group_size(&g), 2);
    CHECK_EQ(cask_group_close(&g, 7), 7); /* the block's own status passes through */
    CHECK_NEAR(cask_time() - t0, 0.6, 1e-6);
    CHECK_EQ(cask_group_size(&g), 0);
    CHECK(cask_task_done(ta));
    cask_release(ta);
    CHECK_LOG("a:start,late:start,a:done,grand:start,grand:done,late:done");
    return 0;
}
TEST(tg1_close_joins_all) { CHECK_EQ(ct_run_virtual(tg1_main, NULL), 0); }

/* TG2 + TG7: the first failure cancels the siblings newest first and the owner's wait inside
 * the block; the code after that wait does not run; close returns the failure. */
static int tg2_main(void *arg)
{
    (void)arg;
    double t0 = cask_time();
    struct kid k1 = {"w1", 2, 0, NULL, NULL}, k2 = {"w2", 1, FAIL(2), NULL, NULL},
               k3 = {"w3", 3, 0, NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    cask_task *t1, *t3;
    CHECK_EQ(cask_group_spawn(&g, &t1, kid, &k1), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k2), 0);
    CHECK_EQ(cask_group_spawn(&g, &t3, kid, &k3), 0);
    int rc = cask_sleep(10); /* the body's own wait */
    CHECK_EQ(rc, -ECANCELED);
    CHECK_NEAR(cask_time() - t0, 1.0, 1e-6);
    ct_log("body:%d", rc == -ECANCELED);
    CHECK_EQ(cask_sleep(1), -ECANCELED); /* sticky until close */
    rc = cask_group_close(&g, rc);
    CHECK_EQ(rc, FAIL(2));
    CHECK_NEAR(cask_time() - t0, 1.0, 1e-6);
    int errs[4];
    CHECK_EQ(cask_group_errors(&g, errs, 4), 1);
    CHECK_EQ(errs[0], FAIL(2));
    CHECK(cask_task_cancelled(t1));
    CHECK(cask_task_cancelled(t3));
    cask_release(t1);
    cask_release(t3);
    CHECK_EQ(cask_cancelling(cask_current()), 0); /* the owner is not left cancelled */
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_LOG("w1:start,w2:start,w3:start,w2:fail,w3:cancelled,w1:cancelled,body:1");
    return 0;
}
TEST(tg2_tg7_failure_cancels_newest_first) { CHECK_EQ(ct_run_virtual(tg2_main, NULL), 0); }

/* TG2 with several failures at once: all are kept, the first is returned. */
static int tg2b_main(void *arg)
{
    (void)arg;
    struct kid k1 = {"a", 1, FAIL(1), NULL, NULL}, k2 = {"b", 1, FAIL(2), NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k1), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k2), 0);
    /* both wake in the same iteration; b is cancelled but already runnable with success:
     * sticky cancellation is not checked after the sleep, so it fails too */
    CHECK_EQ(cask_group_close(&g, 0), FAIL(1));
    int errs[4];
    size_t n = cask_group_errors(&g, errs, 4);
    CHECK_EQ(n, 2);
    CHECK_EQ(errs[0], FAIL(1));
    CHECK_EQ(errs[1], FAIL(2));
    return 0;
}
TEST(tg2_all_failures_kept) { CHECK_EQ(ct_run_virtual(tg2b_main, NULL), 0); }

/* The block itself fails: children are cancelled, close returns the block's failure. */
static int tgbody_main(void *arg)
{
    (void)arg;
    struct kid k1 = {"a", 1, 0, NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k1), 0);
    CHECK_EQ(cask_yield(), 0);
    CHECK_EQ(cask_group_close(&g, FAIL(9)), FAIL(9));
    CHECK_LOG("a:start,a:cancelled");
    return 0;
}
TEST(tg_block_failure) { CHECK_EQ(ct_run_virtual(tgbody_main, NULL), 0); }

/* TG3: a child cancelled explicitly does not fail the group. */
static int tg3_main(void *arg)
{
    (void)arg;
    struct kid k1 = {"a", 1, 0, NULL, NULL}, k2 = {"b", 2, 0, NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    cask_task *ta;
    CHECK_EQ(cask_group_spawn(&g, &ta, kid, &k1), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k2), 0);
    CHECK_EQ(cask_sleep(0.5), 0);
    CHECK(cask_cancel(ta));
    CHECK_EQ(cask_group_close(&g, 0), 0);
    CHECK_EQ(cask_group_errors(&g, NULL, 0), 0);
    cask_release(ta);
    CHECK_LOG("a:start,b:start,a:cancelled,b:done");
    return 0;
}
TEST(tg3_cancelled_child_no_failure) { CHECK_EQ(ct_run_virtual(tg3_main, NULL), 0); }

/* TG4: cancelling the owner cancels every child, waits for them, reports -ECANCELED. */
struct tg4 {
    int child_fail; /* a child that fails while being cancelled */
    double cancel_at;
    int want;
};
static int slow_cleanup(void *arg)
{
    int fail = *(int *)arg;
    int rc = cask_sleep(5);
    CHECK_EQ(rc, -ECANCELED);
    cask_scope sh; /* cleanup that still blocks */
    CHECK_EQ(cask_shield_open(&sh), 0);
    CHECK_EQ(cask_sleep(0.25), 0);
    CHECK_EQ(cask_scope_close(&sh, 0), 0);
    ct_log("cleanup");
    return fail ? fail : rc;
}
static int tg4_owner(void *arg)
{
    struct tg4 *p = arg;
    struct kid k1 = {"a", 5, 0, NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k1), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, slow_cleanup, &p->child_fail), 0);
    int rc = cask_sleep(10);
    ct_log("body:%s", cask_errname(rc));
    rc = cask_group_close(&g, rc);
    ct_log("close:%s", cask_errname(rc));
    CHECK_EQ(cask_cancelling(cask_current()), 1); /* still pending */
    return rc;
}
static int tg4_main(void *arg)
{
    struct tg4 *p = arg;
    cask_task *o;
    double t0 = cask_time();
    CHECK_EQ(cask_spawn(&o, tg4_owner, p), 0);
    CHECK_EQ(cask_sleep(p->cancel_at), 0);
    CHECK(cask_cancel(o));
    CHECK_EQ(cask_join(o), p->want);
    CHECK_NEAR(cask_time() - t0, p->cancel_at + 0.25, 1e-6);
    cask_release(o);
    return 0;
}
TEST(tg4_owner_cancelled)
{
    struct tg4 p = {0, 1, -ECANCELED};
    CHECK_EQ(ct_run_virtual(tg4_main, &p), 0);
    CHECK_LOG("a:start,body:ECANCELED,a:cancelled,cleanup,close:ECANCELED");
}
TEST(tg4_child_fails_while_cancelled)
{
    struct tg4 p = {FAIL(4), 1, FAIL(4)};
    CHECK_EQ(ct_run_virtual(tg4_main, &p), 0);
    CHECK_LOG("a:start,body:ECANCELED,a:cancelled,cleanup,close:EUSER-4");
}

/* TG4 while the owner already waits in close. */
static int tg4c_owner(void *arg)
{
    (void)arg;
    struct kid k1 = {"a", 5, 0, NULL, NULL};
    int zero = 0;
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k1), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, slow_cleanup, &zero), 0);
    return cask_group_close(&g, 0);
}
static int tg4c_main(void *arg)
{
    (void)arg;
    cask_task *o;
    CHECK_EQ(cask_spawn(&o, tg4c_owner, NULL), 0);
    CHECK_EQ(cask_sleep(1), 0);
    CHECK(cask_cancel(o));
    CHECK_EQ(cask_join(o), -ECANCELED);
    cask_release(o);
    CHECK_LOG("a:start,a:cancelled,cleanup");
    return 0;
}
TEST(tg4_owner_cancelled_in_close) { CHECK_EQ(ct_run_virtual(tg4c_main, NULL), 0); }

/* TG5: an inner group's failure fails the outer group (inner group in the block and in a
 * child). */
static int inner_group(void *arg)
{
    struct kid *k = arg;
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, k), 0);
    return cask_group_close(&g, 0);
}
static int tg5_main(void *arg)
{
    (void)arg;
    struct kid bad = {"bad", 1, FAIL(5), NULL, NULL}, sib = {"sib", 3, 0, NULL, NULL},
               bad2 = {"bad2", 0.5, FAIL(6), NULL, NULL}, sib2 = {"sib2", 3, 0, NULL, NULL};
    cask_group outer;
    CHECK_EQ(cask_group_open(&outer), 0);
    CHECK_EQ(cask_group_spawn(&outer, NULL, kid, &sib), 0);
    CHECK_EQ(cask_group_spawn(&outer, NULL, inner_group, &bad), 0);
    CHECK_EQ(cask_group_close(&outer, 0), FAIL(5));
    CHECK_LOG("sib:start,bad:start,bad:fail,sib:cancelled");
    ct_log_reset();
    CHECK_EQ(cask_group_open(&outer), 0);
    CHECK_EQ(cask_group_spawn(&outer, NULL, kid, &sib2), 0);
    int rc = inner_group(&bad2); /* an inner group in the block itself */
    CHECK_EQ(rc, FAIL(6));
    CHECK_EQ(cask_group_close(&outer, rc), FAIL(6));
    CHECK_LOG("sib2:start,bad2:start,bad2:fail,sib2:cancelled");
    return 0;
}
TEST(tg5_nesting) { CHECK_EQ(ct_run_virtual(tg5_main, NULL), 0); }

/* An outer failure reaches the owner waiting in an inner group's close in the block. */
static int tg5b_main(void *arg)
{
    (void)arg;
    struct kid bad = {"bad", 1, FAIL(1), NULL, NULL}, in = {"in", 3, 0, NULL, NULL};
    cask_group outer;
    CHECK_EQ(cask_group_open(&outer), 0);
    CHECK_EQ(cask_group_spawn(&outer, NULL, kid, &bad), 0);
    int rc = inner_group(&in);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(cask_group_close(&outer, rc), FAIL(1));
    CHECK_LOG("bad:start,in:start,bad:fail,in:cancelled");
    return 0;
}
TEST(tg5_outer_failure_reaches_inner_close) { CHECK_EQ(ct_run_virtual(tg5b_main, NULL), 0); }

/* TG6: spawning into a failed or finished group is an error; the function never runs. */
static int never(void *arg)
{
    (void)arg;
    ct_log("never");
    return 0;
}
static int tg6_main(void *arg)
{
    (void)arg;
    struct kid bad = {"bad", 0.1, FAIL(1), NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &bad), 0);
    CHECK_EQ(cask_sleep(1), -ECANCELED);
    cask_task *t = (cask_task *)1;
    CHECK_EQ(cask_group_spawn(&g, &t, never, NULL), -ESHUTDOWN);
    CHECK(t == NULL);
    CHECK_EQ(cask_group_start(&g, NULL, never, NULL, NULL), -ESHUTDOWN);
    CHECK_EQ(cask_group_close(&g, -ECANCELED), FAIL(1));
    CHECK_EQ(cask_group_spawn(&g, NULL, never, NULL), -ESHUTDOWN);
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, never, NULL), -ESHUTDOWN); /* finished */
    CHECK_EQ(cask_group_close(&g, 0), -EINVAL);                    /* closed twice */
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_LOG("bad:start,bad:fail");
    return 0;
}
TEST(tg6_spawn_into_failed_or_finished) { CHECK_EQ(ct_run_virtual(tg6_main, NULL), 0); }

/* Misuse: close by another task, close out of order, NULLs. */
static cask_group *misuse_g;
static int misuse_other(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_group_close(misuse_g, 0), -EPERM);
    return 0;
}
static int misuse_main(void *arg)
{
    (void)arg;
    cask_group g;
    misuse_g = &g;
    CHECK_EQ(cask_group_open(NULL), -EINVAL);
    CHECK_EQ(cask_group_spawn(NULL, NULL, never, NULL), -EINVAL);
    CHECK_EQ(cask_group_close(NULL, 0), -EINVAL);
    CHECK_EQ(cask_group_cancel(NULL), -EINVAL);
    CHECK_EQ(cask_started(NULL), -EINVAL);
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, NULL, NULL), -EINVAL);
    cask_task *t;
    CHECK_EQ(cask_spawn(&t, misuse_other, NULL), 0);
    CHECK_EQ(cask_join(t), 0);
    cask_release(t);
    cask_scope sc;
    CHECK_EQ(cask_timeout_open(&sc, 1), 0);
    CHECK_EQ(cask_group_close(&g, 0), -EINVAL); /* not the innermost scope */
    CHECK_EQ(cask_scope_close(&sc, 0), 0);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    return 0;
}
TEST(tg_misuse) { CHECK_EQ(ct_run_virtual(misuse_main, NULL), 0); }
TEST(tg_outside_loop)
{
    cask_group g;
    CHECK_EQ(cask_group_open(&g), -EPERM);
}

/* TG8: a hydra: each head spawns two more heads into the group; a failing sibling stops it;
 * everything ends, nothing leaks. */
struct hydra {
    cask_group *g;
    int spawned, ended, refused;
};
static int head(void *arg)
{
    struct hydra *h = arg;
    int rc = cask_sleep(0.01);
    if (rc == 0) {
        for (int i = 0; i < 2; i++) {
            int s = cask_group_spawn(h->g, NULL, head, h);
            if (s == 0)
                h->spawned++;
            else
                h->refused++;
        }
    }
    h->ended++;
    return rc;
}
static int stopper(void *arg)
{
    (void)arg;
    int rc = cask_sleep(0.095);
    return rc < 0 ? rc : FAIL(8);
}
static int tg8_main(void *arg)
{
    (void)arg;
    cask_group g;
    struct hydra h = {&g, 1, 0, 0};
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, head, &h), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, stopper, NULL), 0);
    CHECK_EQ(cask_group_close(&g, 0), FAIL(8));
    CHECK_EQ(h.spawned, h.ended);
    CHECK(h.spawned > 500);
    CHECK_EQ(cask_all_tasks(NULL, 0), 1);
    struct cask_loop_stats st;
    CHECK_EQ(cask_loop_stats(&st), 0);
    CHECK_EQ(st.tasks_live, 1);
    return 0;
}
TEST(tg8_hydra) { CHECK_EQ(ct_run_virtual(tg8_main, NULL), 0); }

/* cask_group_cancel: children and the block are cancelled; close returns 0. */
static int canceller(void *arg)
{
    CHECK_EQ(cask_sleep(1), 0);
    CHECK_EQ(cask_group_cancel(arg), 0);
    ct_log("cancelled group");
    return 0;
}
static int tgc_main(void *arg)
{
    (void)arg;
    struct kid k1 = {"a", 5, 0, NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k1), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, canceller, &g), 0);
    int rc = cask_sleep(10);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(cask_group_spawn(&g, NULL, never, NULL), -ESHUTDOWN);
    CHECK_EQ(cask_group_close(&g, rc), 0);
    CHECK_EQ(cask_group_cancel(&g), 0); /* after the end: no-op */
    CHECK_EQ(cask_sleep(0.1), 0);
    CHECK_LOG("a:start,cancelled group,a:cancelled");
    /* the owner cancels its own group, then closes */
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, never, NULL), 0);
    CHECK_EQ(cask_group_cancel(&g), 0);
    CHECK_EQ(cask_yield(), -ECANCELED);
    CHECK_EQ(cask_group_close(&g, 3), 3);
    CHECK_LOG("a:start,cancelled group,a:cancelled");
    return 0;
}
TEST(tg_cancel_group) { CHECK_EQ(ct_run_virtual(tgc_main, NULL), 0); }

/* start: returns once the child reports it is ready, with a value. */
static int server(void *arg)
{
    static int port = 8080;
    double delay = *(double *)arg;
    if (cask_sleep(delay) < 0)
        return -ECANCELED;
    ct_log("listening");
    CHECK_EQ(cask_started(&port), 0);
    CHECK_EQ(cask_started(&port), -EINVAL); /* once */
    int rc = cask_sleep(100);
    ct_log("server:%s", cask_errname(rc));
    return rc;
}
static int bad_server(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_sleep(0.1), 0);
    return FAIL(3);
}
static int lazy_server(void *arg)
{
    (void)arg;
    return 0;
}
static int start_main(void *arg)
{
    (void)arg;
    double delay = 0.5;
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    void *v = NULL;
    double t0 = cask_time();
    cask_task *t;
    CHECK_EQ(cask_group_start(&g, &t, server, &delay, &v), 0);
    CHECK_NEAR(cask_time() - t0, 0.5, 1e-6);
    CHECK_EQ(*(int *)v, 8080);
    CHECK(!cask_task_done(t));
    CHECK_EQ(cask_group_start(&g, NULL, bad_server, NULL, &v), FAIL(3));
    CHECK_EQ(cask_group_start(&g, NULL, lazy_server, NULL, &v), -EINVAL);
    CHECK_EQ(cask_group_errors(&g, NULL, 0), 0); /* those went to the starter */
    CHECK_EQ(cask_group_size(&g), 1);
    CHECK_EQ(cask_group_cancel(&g), 0);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    CHECK(cask_task_cancelled(t));
    cask_release(t);
    CHECK_LOG("listening,server:ECANCELED");
    return 0;
}
TEST(tg_start) { CHECK_EQ(ct_run_virtual(start_main, NULL), 0); }

/* start, eager: the child reports before its first suspension. */
static int eager_server(void *arg)
{
    CHECK_EQ(cask_started(arg), 0);
    return 0;
}
static int start_eager_main(void *arg)
{
    (void)arg;
    int x = 5;
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    void *v = NULL;
    CHECK_EQ(cask_group_start(&g, NULL, eager_server, &x, &v), 0);
    CHECK(v == &x);
    CHECK_EQ(cask_group_close(&g, 0), 0);
    return 0;
}
TEST(tg_start_eager)
{
    struct cask_config cfg = {.virtual_clock = true, .eager_tasks = true};
    CHECK_EQ(cask_run_with(start_eager_main, NULL, &cfg), 0);
}

/* start: the starter is cancelled while waiting: the child is cancelled and waited for. */
static int start_cancel_owner(void *arg)
{
    double delay = 5;
    cask_group *g = arg;
    CHECK_EQ(cask_group_open(g), 0);
    int rc = cask_group_start(g, NULL, server, &delay, NULL);
    ct_log("start:%s", cask_errname(rc));
    return cask_group_close(g, rc);
}
static int start_cancel_main(void *arg)
{
    (void)arg;
    cask_group g;
    cask_task *o;
    CHECK_EQ(cask_spawn(&o, start_cancel_owner, &g), 0);
    CHECK_EQ(cask_sleep(1), 0);
    cask_cancel(o);
    CHECK_EQ(cask_join(o), -ECANCELED);
    cask_release(o);
    CHECK_LOG("start:ECANCELED");
    return 0;
}
TEST(tg_start_cancelled) { CHECK_EQ(ct_run_virtual(start_cancel_main, NULL), 0); }

/* A started child that fails later fails the group like any child. */
static int started_then_fails(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_started(NULL), 0);
    int rc = cask_sleep(0.5);
    return rc < 0 ? rc : FAIL(7);
}
static int start_fail_main(void *arg)
{
    (void)arg;
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_start(&g, NULL, started_then_fails, NULL, NULL), 0);
    CHECK_EQ(cask_sleep(1), -ECANCELED);
    CHECK_EQ(cask_group_close(&g, -ECANCELED), FAIL(7));
    return 0;
}
TEST(tg_started_child_fails_later) { CHECK_EQ(ct_run_virtual(start_fail_main, NULL), 0); }

/* Eager children: one fails inside the spawn call itself; the owner's next blocking call is
 * cancelled and the next spawn is refused. */
static int fails_at_once(void *arg)
{
    (void)arg;
    return FAIL(1);
}
static int eager_main(void *arg)
{
    (void)arg;
    struct kid k = {"a", 1, 0, NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k), 0); /* runs until its sleep */
    CHECK_EQ(cask_group_spawn(&g, NULL, fails_at_once, NULL), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, never, NULL), -ESHUTDOWN);
    CHECK_EQ(cask_yield(), -ECANCELED);
    CHECK_EQ(cask_group_close(&g, -ECANCELED), FAIL(1));
    CHECK_LOG("a:start,a:cancelled");
    return 0;
}
TEST(tg_eager_children)
{
    struct cask_config cfg = {.virtual_clock = true, .eager_tasks = true};
    CHECK_EQ(cask_run_with(eager_main, NULL, &cfg), 0);
}

/* A failed group child is not reported as "nobody read its status": the group read it. */
static int unread_main(void *arg)
{
    (void)arg;
    cask_group g;
    cask_task *t;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, &t, fails_at_once, NULL), 0);
    CHECK_EQ(cask_group_close(&g, 0), FAIL(1));
    cask_release(t);
    return 0;
}
TEST(tg_failure_counts_as_read)
{
    fflush(stderr);
    FILE *saved = stderr;
    char buf[512] = "";
    FILE *mem = fmemopen(buf, sizeof buf, "w");
    CHECK(mem != NULL);
    stderr = mem;
    int rc = ct_run_virtual(unread_main, NULL);
    fflush(mem);
    stderr = saved;
    fclose(mem);
    CHECK_EQ(rc, 0);
    CHECK_STR(buf, "");
}

/* Spawning into a group and closing it allocate nothing (once the stack pool is warm). */
static int noop(void *arg)
{
    (void)arg;
    return 0;
}
static int one_round(void)
{
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(cask_group_spawn(&g, NULL, noop, NULL), 0);
    return cask_group_close(&g, 0);
}
static int alloc_free_main(void *arg)
{
    (void)arg;
    CHECK_EQ(one_round(), 0); /* warms the stack pool */
    long before = ct_allocs_total();
    CHECK_EQ(one_round(), 0);
    CHECK_EQ(ct_allocs_total() - before, 0);
    return 0;
}
TEST(tg_spawn_allocation_free) { CHECK_EQ(ct_run_virtual(alloc_free_main, NULL), 0); }

/* cask_run ends while a background task's group runs: the shutdown cancels the owner, the
 * group cancels and joins its children, nothing leaks. */
static int bg_owner(void *arg)
{
    (void)arg;
    static struct kid k1 = {"x", 10, 0, NULL, NULL}, k2 = {"y", 10, 0, NULL, NULL};
    cask_group g;
    CHECK_EQ(cask_group_open(&g), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k1), 0);
    CHECK_EQ(cask_group_spawn(&g, NULL, kid, &k2), 0);
    int rc = cask_group_close(&g, 0);
    ct_log("owner:%s", cask_errname(rc));
    return rc;
}
static int shutdown_main(void *arg)
{
    (void)arg;
    CHECK_EQ(cask_spawn(NULL, bg_owner, NULL), 0);
    return cask_sleep(1);
}
TEST(tg_loop_shutdown)
{
    CHECK_EQ(ct_run_virtual(shutdown_main, NULL), 0);
    CHECK_LOG("x:start,y:start,y:cancelled,x:cancelled,owner:ECANCELED");
}

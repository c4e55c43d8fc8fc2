/*
 * tree.c: the task tree (`python -m asyncio pstree` with backtraces). Each live task with its
 * parent, spawn site, state, what it waits on in words and for how long, and its backtrace;
 * as indented text for people or one JSON object for tools. Also the public backtrace and
 * symbolization calls.
 */
#define _GNU_SOURCE
#include "debug.h"
#include "sym/sym.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/* ---- backtraces ---- */

int cask__task_frames(const cask_task *t, void **pcs, int max)
{
    if (!t->stack.lo)
        return 0; /* never ran: no stack yet */
    if (t->state == CASK__T_RUNNING && t == cask__self())
        return cask__frames_from(__builtin_frame_address(0), __builtin_return_address(0),
                                 t->stack.lo, t->stack.hi, pcs, max);
    if (t->state == CASK__T_RUNNING)
        return 0; /* running but not the caller: an eager child's spawner, mid-switch */
    if (t->cx)
        return cask__compact_frames(t, pcs, max);
    return cask__frames_parked(&t->ctx, t->stack.lo, t->stack.hi, pcs, max);
}

int cask_task_backtrace(const cask_task *t, void **pcs, int max)
{
    if (!t || t->state == CASK__T_DONE || (max > 0 && !pcs) || max < 0)
        return -EINVAL;
    if (t->loop != cask__loop)
        return -EPERM;
    return cask__task_frames(t, pcs, max);
}

struct sym_args {
    const void *pc;
    char *buf;
    size_t n, len;
};
static void sym_big(void *p)
{
    struct sym_args *a = p;
    a->len = cask__symbolize(a->pc, false, a->buf, a->n);
}

size_t cask_symbolize(const void *pc, char *buf, size_t n)
{
    if (!buf || !n)
        return 0;
    struct sym_args a = {pc, buf, n, 0};
    cask__on_big_stack(sym_big, &a);
    return a.len;
}

/* ---- what a task waits on ---- */

/* t's name without making the default one (cask_task_name writes it into the struct, which a
 * dump from the watchdog thread must not do). */
static const char *tname(const cask_task *t, char *buf, size_t n)
{
    if (t->name[0])
        return t->name;
    snprintf(buf, n, "Task-%" PRIu64, t->id);
    return buf;
}

static size_t wq_len(const struct cask__waiter *w)
{
    size_t n = 0;
    if (w->wq)
        for (const struct cask__waiter *x = w->wq->head; x; x = x->next)
            n++;
    return n;
}

static bool live_task(const cask_task *t, const cask_loop *l)
{
    /* task structs live in slabs that stay mapped until the loop ends: safe to look at */
    return t && t->loop == l && t->state != CASK__T_DONE;
}

cask_task *cask__wait_target(const struct cask__waiter *w)
{
    const char *what = w->what ? w->what : "";
    if (!strcmp(what, "lock"))
        return ((const cask_lock *)w->obj)->owner_;
    if (!strcmp(what, "join") || !strcmp(what, "shield") || !strcmp(what, "group start"))
        return (cask_task *)w->obj;
    return NULL;
}

void cask__describe_wait(cask_loop *l, const cask_task *t, char *buf, size_t n)
{
    const struct cask__waiter *w = t->waiter;
    buf[0] = 0;
    if (t->state != CASK__T_PARKED || !w)
        return;
    const char *what = w->what ? w->what : "?";
    cask_task *target = cask__wait_target(w);
    char tn[32];
    if (!strcmp(what, "lock")) {
        if (live_task(target, l))
            snprintf(buf, n, "lock %p held by task %" PRIu64 " '%s'", w->obj, target->id,
                     tname(target, tn, sizeof tn));
        else
            snprintf(buf, n, "lock %p held outside any task", w->obj);
    } else if (target && live_task(target, l)) {
        snprintf(buf, n, "%s task %" PRIu64 " '%s'", what, target->id,
                 tname(target, tn, sizeof tn));
    } else if (!strcmp(what, "sleep") && w->data) {
        const struct cask__timer *tm = w->data;
        if (tm->index) {
            uint64_t now = cask__loop_now(l);
            double left = tm->when > now ? cask__ns_to_seconds(tm->when - now) : 0;
            snprintf(buf, n, "sleep, %.2f s left", left);
        } else {
            snprintf(buf, n, "sleep, forever");
        }
    } else if (!strncmp(what, "fd ", 3)) {
        snprintf(buf, n, "fd %d %s", (int)w->value, what + 3);
    } else if (!strcmp(what, "group")) {
        const cask_group *g = w->obj;
        snprintf(buf, n, "task group %p, %zu children left", w->obj, g->live_);
    } else if (!strcmp(what, "to_thread")) {
        snprintf(buf, n, "to_thread job");
    } else if (w->wq) {
        snprintf(buf, n, "%s %p, %zu waiting", what, w->obj, wq_len(w));
    } else if (w->obj) {
        snprintf(buf, n, "%s %p", what, w->obj);
    } else {
        snprintf(buf, n, "%s", what);
    }
}

/* ---- the tree ---- */

void cask__json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

struct tree {
    cask_task **t;
    size_t n;
    size_t *first, *next; /* children lists by index; SIZE_MAX ends them */
};

static size_t index_of(const struct tree *tr, uint64_t id)
{
    /* live tasks are listed in spawn order: their ids climb */
    size_t lo = 0, hi = tr->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tr->t[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < tr->n && tr->t[lo]->id == id ? lo : SIZE_MAX;
}

struct dump {
    cask_loop *l;
    FILE *f;
    int flags;
    const cask_task *current; /* the calling task, whose frames were taken before the hop (or
                               * the stuck task, from the watchdog's probe) */
    bool outside;             /* written by another thread while the loop's is stuck */
    void *cur_pcs[CASK__BT_MAX];
    int cur_n;
    int rc;
};

static void one_task(const struct dump *dp, const cask_task *t, int depth, bool first)
{
    FILE *f = dp->f;
    cask_loop *l = dp->l;
    int flags = dp->flags;
    bool json = flags & CASK_DUMP_JSON;
    char on[160], site[200] = "", tn[32];
    cask__describe_wait(l, t, on, sizeof on);
    double waited = -1;
    if (t->state == CASK__T_PARKED && t->park_ns && l->diag) {
        uint64_t now = cask__coarse_ns();
        waited = now > t->park_ns ? cask__ns_to_seconds(now - t->park_ns) : 0;
    }
    if (t->spawn_site)
        cask__symbolize(t->spawn_site, true, site, sizeof site);
    else if (t == l->main_task)
        snprintf(site, sizeof site, "cask_run");
    void *pcs[CASK__BT_MAX];
    int npcs = 0;
    if (flags & CASK_DUMP_NO_BACKTRACE)
        npcs = 0;
    else if (t == dp->current)
        memcpy(pcs, dp->cur_pcs, sizeof(void *) * (size_t)(npcs = dp->cur_n));
    else
        npcs = cask__task_frames(t, pcs, CASK__BT_MAX);
    char sym[200];
    if (json) {
        fprintf(f, "%s\n  {\"id\": %" PRIu64 ", \"name\": ", first ? "" : ",", t->id);
        cask__json_str(f, tname(t, tn, sizeof tn));
        fprintf(f, ", \"parent\": %" PRIu64 ", \"depth\": %d, \"state\": \"%s\", \"cancelling\": %d",
                t->parent_id, depth, cask__task_state_name(t), (int)t->ncancel);
        fputs(", \"waits_on\": ", f);
        cask__json_str(f, on);
        if (t->state == CASK__T_PARKED && t->waiter) {
            fputs(", \"wait_kind\": ", f);
            cask__json_str(f, t->waiter->what ? t->waiter->what : "?");
            cask_task *target = cask__wait_target(t->waiter);
            if (target && target->loop == l && target->state != CASK__T_DONE)
                fprintf(f, ", \"waits_for_task\": %" PRIu64, target->id);
        }
        if (waited >= 0)
            fprintf(f, ", \"waited_s\": %.6f", waited);
        if (t->stack.lo)
            fprintf(f, ", \"stack_touched\": %zu, \"stack_size\": %zu",
                    cask__stack_touched(&t->stack), (size_t)(t->stack.hi - t->stack.lo));
        fputs(", \"spawned_at\": ", f);
        cask__json_str(f, site);
        fputs(", \"backtrace\": [", f);
        for (int i = 0; i < npcs; i++) {
            cask__symbolize(pcs[i], true, sym, sizeof sym);
            fputs(i ? ", " : "", f);
            cask__json_str(f, sym);
        }
        fputs("]}", f);
        return;
    }
    int ind = 2 * depth;
    fprintf(f, "%*s#%" PRIu64 " '%s' %s", ind, "", t->id, tname(t, tn, sizeof tn),
            cask__task_state_name(t));
    if (on[0] && waited >= 0)
        fprintf(f, " %.2f s", waited);
    if (on[0])
        fprintf(f, ": %s", on);
    if (t->ncancel)
        fprintf(f, " (cancelling: %d)", (int)t->ncancel);
    fputc('\n', f);
    if (site[0])
        fprintf(f, "%*s    spawned at %s\n", ind, "", site);
    if (t->stack.lo)
        fprintf(f, "%*s    stack: %zu KiB of %zu KiB touched\n", ind, "",
                (cask__stack_touched(&t->stack) + 1023) / 1024,
                (size_t)(t->stack.hi - t->stack.lo) / 1024);
    for (int i = 0; i < npcs; i++) {
        cask__symbolize(pcs[i], true, sym, sizeof sym);
        fprintf(f, "%*s    %s %s\n", ind, "", i ? "  " : "at", sym);
    }
}

static void dump_big(void *vp)
{
    struct dump *dp = vp;
    cask_loop *l = dp->l;
    FILE *f = dp->f;
    bool json = dp->flags & CASK_DUMP_JSON;
    struct tree tr = {0};
    for (cask_task *t = l->all_head; t; t = t->all_next)
        tr.n++;
    tr.t = cask__calloc(tr.n + 1, sizeof *tr.t);
    tr.first = cask__calloc(tr.n + 1, sizeof *tr.first);
    tr.next = cask__calloc(tr.n + 1, sizeof *tr.next);
    size_t *stack = cask__calloc(tr.n + 1, sizeof *stack);
    int *depth = cask__calloc(tr.n + 1, sizeof *depth);
    int rc = (int)tr.n;
    if (!tr.t || !tr.first || !tr.next || !stack || !depth) {
        rc = -ENOMEM;
        goto out_free;
    }
    if (l->diag && !dp->outside) /* atomically: the watchdog thread reads it */
        __atomic_fetch_add(&l->diag->busy, 1, __ATOMIC_RELAXED);
    size_t i = 0;
    for (cask_task *t = l->all_head; t; t = t->all_next)
        tr.t[i++] = t;
    for (i = 0; i < tr.n; i++)
        tr.first[i] = tr.next[i] = SIZE_MAX;
    /* children in spawn order: link from the youngest down */
    size_t sp = 0;
    for (i = tr.n; i-- > 0;) {
        size_t p = tr.t[i]->parent_id ? index_of(&tr, tr.t[i]->parent_id) : SIZE_MAX;
        if (p != SIZE_MAX && p != i) {
            tr.next[i] = tr.first[p];
            tr.first[p] = i;
        }
    }
    /* roots (no live parent), oldest first, pushed youngest first */
    for (i = tr.n; i-- > 0;) {
        size_t p = tr.t[i]->parent_id ? index_of(&tr, tr.t[i]->parent_id) : SIZE_MAX;
        if (p == SIZE_MAX || p == i) {
            depth[sp] = 0;
            stack[sp++] = i;
        }
    }
    if (json)
        fprintf(f, "{\"loop_iterations\": %" PRIu64 ", \"tasks_live\": %zu, \"tasks\": [",
                l->iterations, tr.n);
    else
        fprintf(f, "task tree: %zu task%s\n", tr.n, tr.n == 1 ? "" : "s");
    bool first = true;
    while (sp) {
        sp--;
        size_t k = stack[sp];
        int d = depth[sp];
        one_task(dp, tr.t[k], d, first);
        first = false;
        /* push children youngest first so the oldest comes out next */
        size_t c0 = sp;
        for (size_t c = tr.first[k]; c != SIZE_MAX; c = tr.next[c]) {
            depth[sp] = d + 1;
            stack[sp++] = c;
        }
        for (size_t a = c0, b = sp; a + 1 < b; a++, b--) {
            size_t tmp = stack[a];
            stack[a] = stack[b - 1];
            stack[b - 1] = tmp;
            int td = depth[a];
            depth[a] = depth[b - 1];
            depth[b - 1] = td;
        }
    }
    if (json)
        fputs("\n]}\n", f);
    fflush(f);
    if (l->diag && !dp->outside)
        __atomic_fetch_sub(&l->diag->busy, 1, __ATOMIC_RELAXED);
out_free:
    cask__free(depth);
    cask__free(stack);
    cask__free(tr.next);
    cask__free(tr.first);
    cask__free(tr.t);
    dp->rc = rc;
}

int cask_dump_tree(FILE *f, int flags)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (!f || (flags & ~(CASK_DUMP_JSON | CASK_DUMP_NO_BACKTRACE)))
        return -EINVAL;
    struct dump dp = {.l = l, .f = f, .flags = flags, .current = l->current};
    if (l->current)
        dp.cur_n = cask__task_frames(l->current, dp.cur_pcs, CASK__BT_MAX);
    /* symbolizing (libdw) needs more stack than a task has */
    cask__on_big_stack(dump_big, &dp);
    return dp.rc;
}

void cask__dump_tree_outside(cask_loop *l, FILE *f, const cask_task *running, void *const *pcs,
                             int n)
{
    struct dump dp = {.l = l, .f = f, .flags = 0, .current = running, .outside = true};
    dp.cur_n = n < CASK__BT_MAX ? n : CASK__BT_MAX;
    memcpy(dp.cur_pcs, pcs, sizeof(void *) * (size_t)dp.cur_n);
    dump_big(&dp); /* on the watchdog thread's own stack */
}

struct fatal_args {
    FILE *f;
    void **pcs;
    int n;
};
static void fatal_big(void *p)
{
    struct fatal_args *a = p;
    char sym[200];
    for (int i = 0; i < a->n; i++) {
        cask__symbolize(a->pcs[i], true, sym, sizeof sym);
        fprintf(a->f, "    %s %s\n", i ? "  " : "at", sym);
    }
}

void cask__diag_fatal_backtrace(FILE *f)
{
    cask_task *t = cask__self();
    if (!t || !t->stack.lo)
        return;
    void *pcs[CASK__BT_MAX];
    struct fatal_args a = {f, pcs, cask__frames_from(__builtin_frame_address(0), NULL, t->stack.lo,
                                                      t->stack.hi, pcs, CASK__BT_MAX)};
    sigset_t pipe_set; /* a reader gone from stderr must not turn the abort into SIGPIPE */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    fprintf(f, "cask: in task %llu '%s':\n", (unsigned long long)t->id, cask_task_name(t));
    cask__on_big_stack(fatal_big, &a);
    fflush(f);
}

void cask__diag_overflow_backtrace(const cask_task *t, void *uctx)
{
    /* in the SIGSEGV handler, the process about to abort: no stdio (its lock may be held by
     * the code that overflowed), no libdw; dladdr names exported functions */
    void *pcs[CASK__BT_MAX];
    int n = cask__frames_ucontext(uctx, t->stack.lo, t->stack.hi, pcs, CASK__BT_MAX);
    /* a reader that stopped reading stderr must not turn the abort into a SIGPIPE death */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    char line[256], sym[200];
    for (int i = 0; i < n; i++) {
        cask__sym_dladdr(pcs[i], i > 0, sym, sizeof sym);
        int len = snprintf(line, sizeof line, "    %s %s\n", i ? "  " : "at", sym);
        if (len > 0) {
            ssize_t w = write(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
            (void)w;
        }
    }
}

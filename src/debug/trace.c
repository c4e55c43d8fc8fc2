/*
 * trace.c: the trace timeline. While recording, the loop's hot paths (each behind one
 * predictable branch on l->trace) append fixed-size events to a per-loop ring: task spawned,
 * run, parked (on what), yielded, woken (by whom), ended; the loop blocked in the poller,
 * callbacks, timers fired, fds ready. The export turns the ring into Chrome trace-event JSON
 * (ui.perfetto.dev, chrome://tracing): one track per task with "run" and wait slices, a loop
 * track, instant events and flows from the waker (or spawner) to the task it made runnable.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <inttypes.h>
#include <unistd.h>

#define TRACE_DEFAULT 65536
#define TRACE_MAX ((size_t)1 << 24)

struct ev {
    uint64_t ts;   /* cask__ticks() */
    uint64_t task; /* the task it is about (0: the loop) */
    uint32_t kind;
    int32_t i; /* status, fd */
    union {
        struct {
            uint64_t other;   /* waker, spawner (0: the loop); lock owner or joined task */
            const char *what; /* the waiter's static words */
            const void *obj;  /* the object waited on; the spawn site */
            uint64_t aux;     /* a sleep's time left (ns), an fd's events */
        } w;
        char name[32];
    } u;
};

struct cask__trace {
    struct ev *ev;
    uint64_t cap;       /* a power of two */
    uint64_t n;         /* events ever written; the ring holds the last cap */
    uint64_t t0, tick0; /* the start: cask__clock_ns() and cask__ticks() */
    uint64_t cur;       /* the task running as the events see it (0: the loop) */
    char *path;         /* cask_config.trace_path: written when the loop closes */
};

static inline struct ev *put(struct cask__trace *tr, uint32_t kind, uint64_t task)
{
    struct ev *e = &tr->ev[tr->n++ & (tr->cap - 1)];
    e->ts = cask__ticks(); /* a clock_gettime costs 3 to 5 times more on a VM */
    e->kind = kind;
    e->task = task;
    e->i = 0;
    return e;
}

void cask__trace_task(cask_loop *l, int kind, const cask_task *t, int i)
{
    struct cask__trace *tr = l->trace;
    struct ev *e = put(tr, (uint32_t)kind, t->id);
    e->i = i;
    switch (kind) {
    case CASK__TR_RUN: tr->cur = t->id; break;
    case CASK__TR_SPAWN:
        e->u.w.other = tr->cur;
        e->u.w.obj = t->spawn_site;
        e->u.w.aux = t->parent_id;
        break;
    case CASK__TR_NAME: memcpy(e->u.name, t->name, sizeof e->u.name); break;
    default: /* yield, end: it leaves the CPU */
        if (tr->cur == t->id)
            tr->cur = 0;
        break;
    }
}

void cask__trace_park(cask_loop *l, const cask_task *t, const struct cask__waiter *w)
{
    struct cask__trace *tr = l->trace;
    struct ev *e = put(tr, CASK__TR_PARK, t->id);
    tr->cur = 0;
    const char *what = w->what ? w->what : "?";
    cask_task *target = cask__wait_target(w);
    e->u.w.what = what;
    e->u.w.obj = w->obj;
    e->u.w.other = target ? target->id : 0;
    e->u.w.aux = 0;
    if (!strcmp(what, "sleep") && w->data) {
        const struct cask__timer *tm = w->data;
        uint64_t now = cask__loop_now(l); /* the loop's clock: real or virtual */
        e->u.w.aux = !tm->index ? CASK__NEVER : tm->when > now ? tm->when - now : 0;
    } else if (!strncmp(what, "fd ", 3)) {
        e->i = (int32_t)w->value;
    } else if (w->wq) {
        size_t n = 0; /* the queue's length, bounded: the words say "N waiting" */
        for (const struct cask__waiter *x = w->wq->head; x && n < 1000; x = x->next)
            n++;
        e->i = (int32_t)n;
    }
}

void cask__trace_wake(cask_loop *l, const cask_task *t, int status)
{
    struct cask__trace *tr = l->trace;
    struct ev *e = put(tr, CASK__TR_WAKE, t->id);
    e->i = status;
    e->u.w.other = tr->cur;
}

void cask__trace_loop(cask_loop *l, int kind, int i, uint64_t aux)
{
    struct ev *e = put(l->trace, (uint32_t)kind, 0);
    e->i = i;
    e->u.w.aux = aux;
}

/* ---- recording on and off ---- */

static void trace_free(struct cask__trace *tr)
{
    if (!tr)
        return;
    cask__free(tr->ev);
    cask__free(tr->path);
    cask__free(tr);
}

static int trace_new(cask_loop *l, size_t max_events)
{
    if (max_events > TRACE_MAX)
        return -EINVAL;
    uint64_t cap = 64;
    while (cap < (max_events ? max_events : TRACE_DEFAULT))
        cap *= 2;
    struct cask__trace *tr = cask__calloc(1, sizeof *tr);
    if (!tr)
        return -ENOMEM;
    tr->ev = cask__malloc(cap * sizeof *tr->ev);
    if (!tr->ev) {
        cask__free(tr);
        return -ENOMEM;
    }
    tr->cap = cap;
    tr->t0 = cask__clock_ns();
    tr->tick0 = cask__ticks();
    tr->cur = l->current ? l->current->id : 0;
    trace_free(l->trace_buf); /* a new recording replaces the last one */
    l->trace_buf = tr;
    l->trace = tr;
    /* the tasks alive now: their names, so their tracks are named */
    for (cask_task *t = l->all_head; t; t = t->all_next) {
        cask_task_name(t);
        cask__trace_task(l, CASK__TR_NAME, t, 0);
    }
    if (l->current)
        cask__trace_task(l, CASK__TR_RUN, l->current, 0);
    return 0;
}

int cask_trace_start(size_t max_events)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (l->trace)
        return -EBUSY;
    return trace_new(l, max_events);
}

int cask_trace_stop(void)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (!l->trace)
        return -ENOENT;
    if (l->current) /* the caller's run slice ends here */
        cask__trace_task(l, CASK__TR_YIELD, l->current, 1);
    l->trace = NULL;
    return 0;
}

/* ---- the export ---- */

struct track {
    uint64_t id; /* task id; 0: empty slot */
    char name[32];
    uint64_t parent;
    const void *site;
    int open;      /* 0 nothing, 1 "run", 2 a wait */
    uint64_t flow; /* a flow to end at its next run (0: none) */
    const char *flow_name;
};

struct exp {
    struct cask__trace *tr;
    FILE *f;
    uint64_t first, last; /* the events exported: [first, last) */
    struct track *tracks;
    size_t mask;
    size_t ntracks;
    uint64_t flows;
    bool comma;
    int rc;
    double ns_per_tick; /* calibrated over the recording */
    int loop_open;      /* poll or callback slices open on the loop track */
};

static struct track *track(struct exp *x, uint64_t id)
{
    size_t i = (size_t)(id * 0x9e3779b97f4a7c15u) & x->mask;
    while (x->tracks[i].id && x->tracks[i].id != id)
        i = (i + 1) & x->mask;
    if (!x->tracks[i].id) {
        x->tracks[i].id = id;
        x->ntracks++;
    }
    return &x->tracks[i];
}

static const char *task_name(struct exp *x, uint64_t id, char *buf, size_t n)
{
    struct track *k = track(x, id);
    if (k->name[0])
        snprintf(buf, n, "%.31s", k->name);
    else
        snprintf(buf, n, "Task-%" PRIu64, id);
    return buf;
}

/* Microseconds since the recording started, for a tick stamp. */
static double us(const struct exp *x, uint64_t ts)
{
    return ts > x->tr->tick0 ? (double)(ts - x->tr->tick0) * x->ns_per_tick / 1e3 : 0;
}

/* Opens an event object: {"ph":..,"name":..,"pid":..,"tid":..,"ts":.. (the caller adds the
 * rest and the closing brace). */
static void head(struct exp *x, const char *ph, const char *name, uint64_t tid, uint64_t ts)
{
    fprintf(x->f, "%s\n{\"ph\":\"%s\",\"name\":", x->comma ? "," : "", ph);
    x->comma = true;
    cask__json_str(x->f, name);
    fprintf(x->f, ",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":%.3f", (int)getpid(), tid, us(x, ts));
}

static void end_slice(struct exp *x, struct track *k, uint64_t ts, const char *arg, int status)
{
    if (!k->open)
        return;
    head(x, "E", "", k->id, ts);
    if (arg)
        fprintf(x->f, ",\"args\":{\"%s\":%d}", arg, status);
    fputs("}", x->f);
    k->open = 0;
}

static void wait_words(struct exp *x, const struct ev *e, char *buf, size_t n)
{
    const char *what = e->u.w.what;
    char tn[40];
    if (!strcmp(what, "lock")) {
        if (e->u.w.other)
            snprintf(buf, n, "lock %p held by task %" PRIu64 " '%s'", e->u.w.obj, e->u.w.other,
                     task_name(x, e->u.w.other, tn, sizeof tn));
        else
            snprintf(buf, n, "lock %p", e->u.w.obj);
    } else if (e->u.w.other) {
        snprintf(buf, n, "%s task %" PRIu64 " '%s'", what, e->u.w.other,
                 task_name(x, e->u.w.other, tn, sizeof tn));
    } else if (!strcmp(what, "sleep")) {
        if (e->u.w.aux == CASK__NEVER)
            snprintf(buf, n, "sleep, forever");
        else
            snprintf(buf, n, "sleep %.3f s", cask__ns_to_seconds(e->u.w.aux));
    } else if (!strncmp(what, "fd ", 3)) {
        snprintf(buf, n, "fd %d %s", (int)e->i, what + 3);
    } else if (!strcmp(what, "to_thread")) {
        snprintf(buf, n, "to_thread job");
    } else if (e->i > 0) {
        snprintf(buf, n, "%s %p, %d waiting", what, e->u.w.obj, (int)e->i);
    } else if (e->u.w.obj) {
        snprintf(buf, n, "%s %p", what, e->u.w.obj);
    } else {
        snprintf(buf, n, "%s", what);
    }
}

static void flow_start(struct exp *x, struct track *to, uint64_t from, uint64_t ts,
                       const char *name)
{
    if (!from || !track(x, from)->open)
        return; /* only from a task's run slice (the loop's wakes are instants) */
    to->flow = ++x->flows;
    to->flow_name = name;
    head(x, "s", name, from, ts);
    fprintf(x->f, ",\"cat\":\"flow\",\"id\":%" PRIu64 "}", to->flow);
}

static void one_event(struct exp *x, const struct ev *e)
{
    FILE *f = x->f;
    char words[200], tn[40];
    struct track *k = e->task ? track(x, e->task) : NULL;
    switch (e->kind) {
    case CASK__TR_SPAWN:
        head(x, "i", "spawn", e->task, e->ts);
        fprintf(f, ",\"s\":\"t\",\"args\":{\"parent\":%" PRIu64 "}}", e->u.w.aux);
        flow_start(x, k, e->u.w.other, e->ts, "spawn");
        break;
    case CASK__TR_RUN:
        end_slice(x, k, e->ts, NULL, 0);
        head(x, "B", "run", e->task, e->ts);
        fputs(",\"cat\":\"task\"}", f);
        k->open = 1;
        if (k->flow) {
            head(x, "f", k->flow_name, e->task, e->ts);
            fprintf(f, ",\"cat\":\"flow\",\"bp\":\"e\",\"id\":%" PRIu64 "}", k->flow);
            k->flow = 0;
        }
        break;
    case CASK__TR_PARK:
        end_slice(x, k, e->ts, NULL, 0);
        wait_words(x, e, words, sizeof words);
        head(x, "B", words, e->task, e->ts);
        fputs(",\"cat\":\"wait\"}", f);
        k->open = 2;
        break;
    case CASK__TR_YIELD: end_slice(x, k, e->ts, NULL, 0); break;
    case CASK__TR_END:
        end_slice(x, k, e->ts, NULL, 0);
        head(x, "i", "end", e->task, e->ts);
        fprintf(f, ",\"s\":\"t\",\"args\":{\"status\":%d}}", (int)e->i);
        break;
    case CASK__TR_WAKE:
        if (k->open == 2)
            end_slice(x, k, e->ts, "status", e->i);
        head(x, "i", "wake", e->task, e->ts);
        fputs(",\"s\":\"t\",\"args\":{\"by\":", f);
        if (e->u.w.other) {
            snprintf(words, sizeof words, "task %" PRIu64 " '%s'", e->u.w.other,
                     task_name(x, e->u.w.other, tn, sizeof tn));
            cask__json_str(f, words);
        } else {
            fputs("\"loop\"", f);
        }
        fprintf(f, ",\"status\":%d}}", (int)e->i);
        flow_start(x, k, e->u.w.other, e->ts, "wake");
        break;
    case CASK__TR_POLL:
    case CASK__TR_CALLBACK:
        head(x, "B", e->kind == CASK__TR_POLL ? "poll" : "callback", 0, e->ts);
        fputs(",\"cat\":\"loop\"}", f);
        x->loop_open++;
        break;
    case CASK__TR_POLL_END:
    case CASK__TR_CALLBACK_END:
        if (x->loop_open > 0) { /* its start may have been overwritten in the ring */
            head(x, "E", "", 0, e->ts);
            fputs("}", f);
            x->loop_open--;
        }
        break;
    case CASK__TR_TIMER:
        head(x, "i", "timer", 0, e->ts);
        fputs(",\"s\":\"t\"}", f);
        break;
    case CASK__TR_FD:
        snprintf(words, sizeof words, "fd %d%s%s", (int)e->i,
                 (e->u.w.aux & CASK_READABLE) ? " readable" : "",
                 (e->u.w.aux & CASK_WRITABLE) ? " writable" : "");
        head(x, "i", words, 0, e->ts);
        fputs(",\"s\":\"t\"}", f);
        break;
    default: break; /* names: read in the first pass */
    }
}

static void export(void *p)
{
    struct exp *x = p;
    struct cask__trace *tr = x->tr;
    FILE *f = x->f;
    /* first pass: every task that appears, with its latest name and where it was spawned */
    for (uint64_t i = x->first; i < x->last; i++) {
        const struct ev *e = &tr->ev[i & (tr->cap - 1)];
        if (!e->task)
            continue;
        struct track *k = track(x, e->task);
        if (e->kind == CASK__TR_NAME)
            memcpy(k->name, e->u.name, sizeof k->name);
        else if (e->kind == CASK__TR_SPAWN) {
            k->parent = e->u.w.aux;
            k->site = e->u.w.obj;
        }
        if ((e->kind == CASK__TR_PARK || e->kind == CASK__TR_WAKE || e->kind == CASK__TR_SPAWN) &&
            e->u.w.other)
            track(x, e->u.w.other);
    }
    int pid = (int)getpid();
    fprintf(f,
            "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"cask\",\"events\":%" PRIu64
            ",\"dropped\":%" PRIu64 "},\n\"traceEvents\":[",
            x->last - x->first, x->first);
    fprintf(f,
            "\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":"
            "\"cask loop\"}},",
            pid);
    fprintf(f,
            "\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":"
            "\"loop\"}},",
            pid);
    fprintf(f,
            "\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%d,\"tid\":0,\"args\":{"
            "\"sort_index\":0}}",
            pid);
    x->comma = true;
    for (size_t i = 0; i <= x->mask; i++) {
        struct track *k = &x->tracks[i];
        if (!k->id)
            continue;
        char name[80], tn[40], site[200] = "";
        snprintf(name, sizeof name, "%s (task %" PRIu64 ")", task_name(x, k->id, tn, sizeof tn),
                 k->id);
        fprintf(f,
                ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%" PRIu64
                ",\"args\":{\"name\":",
                pid, k->id);
        cask__json_str(f, name);
        fprintf(f,
                "}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%d,\"tid\":%" PRIu64
                ",\"args\":{\"sort_index\":%" PRIu64 "}}",
                pid, k->id, k->id);
        if (k->site) {
            cask__symbolize(k->site, true, site, sizeof site);
            head(x, "i", "spawned at", k->id, tr->tick0);
            fputs(",\"s\":\"t\",\"args\":{\"site\":", f);
            cask__json_str(f, site);
            fputs("}}", f);
        }
    }
    /* second pass, in time order: slices opened and closed per task, instants, flows */
    uint64_t last_ts = tr->tick0;
    for (uint64_t i = x->first; i < x->last; i++) {
        const struct ev *e = &tr->ev[i & (tr->cap - 1)];
        one_event(x, e);
        last_ts = e->ts;
    }
    /* what is still open (a task waiting or running when the export ran) ends at the end */
    for (size_t i = 0; i <= x->mask; i++)
        end_slice(x, &x->tracks[i], last_ts, NULL, 0);
    for (; x->loop_open > 0; x->loop_open--) { /* written from inside a callback */
        head(x, "E", "", 0, last_ts);
        fputs("}", f);
    }
    fputs("\n]}\n", f);
    if (fflush(f) != 0 || ferror(f))
        x->rc = -EIO;
}

static int trace_export(struct cask__trace *tr, FILE *f)
{
    struct exp x;
    memset(&x, 0, sizeof x);
    x.tr = tr;
    x.f = f;
    x.last = tr->n;
    x.first = tr->n > tr->cap ? tr->n - tr->cap : 0;
    uint64_t n = x.last - x.first;
    size_t slots = 64;
    while (slots < 2 * n + 2) /* at most two tasks per event: a load factor below 1/2 */
        slots *= 2;
    /* the ticks' unit, from the two clocks read at the start and now */
    uint64_t ns = cask__clock_ns(), ticks = cask__ticks();
    x.ns_per_tick = ticks > tr->tick0 && ns > tr->t0
                        ? (double)(ns - tr->t0) / (double)(ticks - tr->tick0)
                        : 1.0;
    x.tracks = cask__calloc(slots, sizeof *x.tracks);
    if (!x.tracks)
        return -ENOMEM;
    x.mask = slots - 1;
    cask__on_big_stack(export, &x); /* symbolizing needs more than a task's stack */
    cask__free(x.tracks);
    return x.rc ? x.rc : (int)(n > INT32_MAX ? INT32_MAX : n);
}

int cask_trace_write(FILE *f)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (!f)
        return -EINVAL;
    if (!l->trace_buf)
        return -ENOENT;
    return trace_export(l->trace_buf, f);
}

/* ---- cask_run's config ---- */

int cask__trace_config(cask_loop *l, const struct cask_config *cfg)
{
    if (!cfg->trace_path)
        return cfg->trace_events > TRACE_MAX ? -EINVAL : 0;
    if (!cfg->trace_path[0])
        return -EINVAL;
    int rc = trace_new(l, cfg->trace_events);
    if (rc)
        return rc;
    size_t n = strlen(cfg->trace_path) + 1;
    l->trace->path = cask__malloc(n);
    if (!l->trace->path) {
        cask__trace_close(l);
        return -ENOMEM;
    }
    memcpy(l->trace->path, cfg->trace_path, n);
    return 0;
}

void cask__trace_close(cask_loop *l)
{
    struct cask__trace *tr = l->trace_buf;
    if (!tr)
        return;
    l->trace = NULL;
    l->trace_buf = NULL;
    if (tr->path) {
        FILE *f = fopen(tr->path, "w");
        int rc = f ? trace_export(tr, f) : -errno;
        if (f && fclose(f) != 0 && rc >= 0)
            rc = -EIO;
        if (rc < 0)
            fprintf(stderr, "cask: trace: cannot write %s: %s\n", tr->path, cask_strerror(rc));
    }
    trace_free(tr);
}

/*
 * deadlock.c: the wait-for graph of a loop and its cycles. An edge goes from a parked task to
 * a task whose progress it waits for: the owner of the lock it wants, the task it joins,
 * gathers or waits for (every waiter queued on a task), the children of the task group it
 * closes. Only parked tasks have edges, so every cycle is a set of tasks that wait for each
 * other: a deadlock. Cycles are found by depth-first search, one per back edge.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <inttypes.h>
#include <stdlib.h>

struct edge {
    size_t from, to;
    const struct cask__waiter *w; /* the waiter of from that makes the edge */
};

struct graph {
    cask_task **t;
    size_t n;
    struct edge *e;
    size_t ne, cap;
    size_t *start; /* edges of node i: e[start[i] .. start[i+1]) after sorting */
};

static size_t find(const struct graph *g, const cask_task *t)
{
    if (!t)
        return SIZE_MAX;
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->t[mid]->id < t->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->n && g->t[lo] == t ? lo : SIZE_MAX;
}

static int add(struct graph *g, size_t from, size_t to, const struct cask__waiter *w)
{
    if (from == SIZE_MAX || to == SIZE_MAX)
        return 0;
    if (g->ne == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        struct edge *e = cask__realloc(g->e, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        g->e = e;
        g->cap = cap;
    }
    g->e[g->ne++] = (struct edge){from, to, w};
    return 0;
}

static int cmp_edge(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from;
}

static int build(cask_loop *l, struct graph *g)
{
    for (cask_task *t = l->all_head; t; t = t->all_next)
        g->n++;
    g->t = cask__calloc(g->n + 1, sizeof *g->t);
    g->start = cask__calloc(g->n + 2, sizeof *g->start);
    if (!g->t || !g->start)
        return -ENOMEM;
    size_t i = 0;
    for (cask_task *t = l->all_head; t; t = t->all_next)
        g->t[i++] = t;
    for (i = 0; i < g->n; i++) {
        cask_task *t = g->t[i];
        /* whoever waits on t (join, shield, gather, wait, as_completed) */
        for (const struct cask__waiter *w = t->joiners.head; w; w = w->next)
            if (w->task && w->task->state == CASK__T_PARKED && add(g, find(g, w->task), i, w))
                return -ENOMEM;
        if (t->state != CASK__T_PARKED || !t->waiter)
            continue;
        const struct cask__waiter *w = t->waiter;
        const char *what = w->what ? w->what : "";
        if (!strcmp(what, "lock") || !strcmp(what, "group start")) {
            if (add(g, i, find(g, cask__wait_target(w)), w))
                return -ENOMEM;
        } else if (!strcmp(what, "group")) {
            const cask_group *gr = w->obj;
            for (cask_task *c = gr->head_; c; c = c->group_next)
                if (add(g, i, find(g, c), w))
                    return -ENOMEM;
        }
    }
    if (g->ne)
        qsort(g->e, g->ne, sizeof *g->e, cmp_edge);
    size_t k = 0;
    for (i = 0; i <= g->n; i++) {
        while (k < g->ne && g->e[k].from < i)
            k++;
        g->start[i] = k;
    }
    g->start[g->n + 1] = g->ne;
    return 0;
}

/* "waits for lock L held by", "joins", ... for the edge's waiter */
static void edge_words(const struct cask__waiter *w, const cask_task *to, char *buf, size_t n)
{
    const char *what = w->what ? w->what : "?";
    if (!strcmp(what, "lock"))
        snprintf(buf, n, "waits for lock %p held by", w->obj);
    else if (!strcmp(what, "join"))
        snprintf(buf, n, "joins");
    else if (!strcmp(what, "shield"))
        snprintf(buf, n, "joins (shielded)");
    else if (!strcmp(what, "gather"))
        snprintf(buf, n, "gathers");
    else if (!strcmp(what, "group"))
        snprintf(buf, n, "closes its task group, waiting for");
    else if (!strcmp(what, "group start"))
        snprintf(buf, n, "waits for the start of");
    else
        snprintf(buf, n, "%s", what);
    (void)to;
}

static void print_edge(FILE *f, const struct graph *g, const struct edge *e, bool json)
{
    char words[96];
    const cask_task *a = g->t[e->from], *b = g->t[e->to];
    edge_words(e->w, b, words, sizeof words);
    if (json) {
        fprintf(f, "{\"from\": %" PRIu64 ", \"to\": %" PRIu64 ", \"kind\": ", a->id, b->id);
        cask__json_str(f, e->w->what ? e->w->what : "?");
        fputs(", \"text\": ", f);
        cask__json_str(f, words);
        fputc('}', f);
    } else {
        fprintf(f, "task %" PRIu64 " '%s' %s task %" PRIu64 " '%s'", a->id, cask_task_name(a),
                words, b->id, cask_task_name(b));
    }
}

int cask_find_deadlocks(FILE *f, int flags)
{
    cask_loop *l = cask__loop;
    if (!l)
        return -EPERM;
    if (flags & ~(CASK_DUMP_JSON | CASK_DUMP_NO_BACKTRACE))
        return -EINVAL;
    bool json = flags & CASK_DUMP_JSON;
    struct graph g = {0};
    uint8_t *color = NULL;
    size_t *path = NULL, *edge_at = NULL;
    int rc = build(l, &g);
    if (rc)
        goto out_free;
    color = cask__calloc(g.n + 1, 1); /* 0 white, 1 on the path, 2 done */
    path = cask__calloc(g.n + 1, sizeof *path);
    edge_at = cask__calloc(g.n + 1, sizeof *edge_at); /* the edge taken out of path[i] */
    if (!color || !path || !edge_at) {
        rc = -ENOMEM;
        goto out_free;
    }
    if (f && json) {
        fputs("{\"edges\": [", f);
        for (size_t k = 0; k < g.ne; k++) {
            fputs(k ? ", " : "", f);
            print_edge(f, &g, &g.e[k], true);
        }
        fputs("], \"cycles\": [", f);
    }
    int cycles = 0;
    for (size_t root = 0; root < g.n; root++) {
        if (color[root])
            continue;
        size_t depth = 0;
        path[0] = root;
        edge_at[0] = g.start[root];
        color[root] = 1;
        while (1) {
            size_t u = path[depth];
            if (edge_at[depth] < g.start[u + 1]) {
                const struct edge *e = &g.e[edge_at[depth]++];
                size_t v = e->to;
                if (color[v] == 0) {
                    color[v] = 1;
                    path[++depth] = v;
                    edge_at[depth] = g.start[v];
                } else if (color[v] == 1) {
                    /* a back edge: the path from v to u, then u -> v, is a cycle */
                    size_t s = depth;
                    while (path[s] != v)
                        s--;
                    if (f) {
                        if (json)
                            fputs(cycles ? ", [" : "[", f);
                        else
                            fputs("deadlock: ", f);
                        for (size_t k = s; k <= depth; k++) {
                            const struct edge *ek = k < depth ? &g.e[edge_at[k] - 1] : e;
                            if (json) {
                                fputs(k > s ? ", " : "", f);
                                print_edge(f, &g, ek, true);
                            } else {
                                fputs(k > s ? "; " : "", f);
                                print_edge(f, &g, ek, false);
                            }
                        }
                        fputs(json ? "]" : "\n", f);
                    }
                    cycles++;
                }
                continue;
            }
            color[u] = 2;
            if (depth == 0)
                break;
            depth--;
        }
    }
    if (f) {
        if (json)
            fputs("]}\n", f);
        fflush(f);
    }
    rc = cycles;
out_free:
    cask__free(edge_at);
    cask__free(path);
    cask__free(color);
    cask__free(g.e);
    cask__free(g.start);
    cask__free(g.t);
    return rc;
}

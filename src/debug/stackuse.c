/*
 * stackuse.c: how much of its stack a task used. A stack is a mapping whose pages the kernel
 * backs only when touched, so mincore(2) over it counts the pages touched so far: the
 * high-water mark, in pages, without painting. Pooled stacks keep their pages when a task
 * ends, so with cfg.report_stack_use each ended task's stack is measured, then its pages are
 * given back (MADV_DONTNEED) before the next task gets it: every task starts clean, and the
 * summary written when cask_run ends (per task name, or per function for unnamed tasks: the
 * count, median, 99th percentile and maximum) is each task's own.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HIST 257 /* pages 0..255 exactly, then one bucket for 256 and more */
#define KEYS_MAX 256

struct use_key {
    char name[32]; /* the task's own name, or "" when it kept its default name */
    cask_fn fn;    /* the body, which names unnamed tasks */
    uint64_t count;
    uint64_t max; /* bytes */
    uint32_t hist[HIST];
};

struct cask__stackuse {
    struct use_key *keys;
    size_t n;
    uint64_t others; /* tasks beyond KEYS_MAX distinct keys: counted only */
    size_t stack_size;
};

size_t cask__stack_touched(const struct cask__stack *s)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)s->lo & ~(uintptr_t)(page - 1);
    uintptr_t hi = (uintptr_t)s->hi;
    size_t touched = 0;
    unsigned char vec[256];
    while (lo < hi) {
        size_t pages = (hi - lo) / page;
        if (pages > sizeof vec)
            pages = sizeof vec;
        if (pages == 0)
            break;
        if (mincore((void *)lo, pages * page, vec) != 0)
            return 0; /* not a mapping we can ask about: say nothing rather than guess */
        for (size_t i = 0; i < pages; i++)
            touched += vec[i] & 1;
        lo += pages * page;
    }
    return touched * page;
}

static bool default_name(const cask_task *t)
{
    char def[32];
    snprintf(def, sizeof def, "Task-%" PRIu64, t->id);
    return !t->name[0] || !strcmp(t->name, def);
}

void cask__stackuse_end(cask_loop *l, const cask_task *t)
{
    struct cask__stackuse *u = l->diag->stackuse;
    if (!u || !t->stack.lo)
        return;
    size_t bytes = cask__stack_touched(&t->stack);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* the next task on this stack starts with nothing resident, as the pool's own trim
     * leaves a stack */
    madvise(t->stack.lo, (size_t)(t->stack.hi - t->stack.lo), MADV_DONTNEED);
    bool dflt = default_name(t);
    struct use_key *k = NULL;
    for (size_t i = 0; i < u->n; i++)
        if (dflt ? (!u->keys[i].name[0] && u->keys[i].fn == t->fn)
                 : !strcmp(u->keys[i].name, t->name)) {
            k = &u->keys[i];
            break;
        }
    if (!k) {
        if (u->n == KEYS_MAX) {
            u->others++;
            return;
        }
        if (!u->keys) {
            u->keys = cask__calloc(KEYS_MAX, sizeof *u->keys);
            if (!u->keys) {
                u->others++;
                return;
            }
        }
        k = &u->keys[u->n++];
        memcpy(k->name, dflt ? "" : t->name, dflt ? 1 : sizeof k->name);
        k->fn = t->fn;
    }
    k->count++;
    if (bytes > k->max)
        k->max = bytes;
    size_t pages = bytes / page;
    k->hist[pages < HIST - 1 ? pages : HIST - 1]++;
}

/* The smallest page count at or below which a fraction q of the samples lie, in bytes. */
static uint64_t pct(const struct use_key *k, double q, size_t page)
{
    uint64_t want = (uint64_t)(q * (double)k->count + 0.999999), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < HIST; i++) {
        seen += k->hist[i];
        if (seen >= want)
            return i == HIST - 1 ? k->max : (uint64_t)i * page;
    }
    return k->max;
}

static void kib(char *buf, size_t n, uint64_t bytes)
{
    snprintf(buf, n, "%" PRIu64 " KiB", (bytes + 1023) / 1024);
}

struct report {
    struct cask__stackuse *u;
    FILE *f;
};

static int by_max(const void *a, const void *b)
{
    const struct use_key *x = a, *y = b;
    return x->max < y->max ? 1 : x->max > y->max ? -1 : 0;
}

static void report_big(void *p)
{
    struct report *r = p;
    struct cask__stackuse *u = r->u;
    FILE *f = r->f;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    qsort(u->keys, u->n, sizeof *u->keys, by_max);
    char size[32];
    kib(size, sizeof size, u->stack_size);
    fprintf(f,
            "cask: stack use per task (pages touched, measured as each task ended; default "
            "stack %s):\n",
            size);
    fprintf(f, "  %-40s %8s %9s %9s %9s\n", "task", "tasks", "median", "p99", "max");
    for (size_t i = 0; i < u->n; i++) {
        const struct use_key *k = &u->keys[i];
        char name[240], a[32], b[32], c[32];
        if (k->name[0]) {
            snprintf(name, sizeof name, "%.32s", k->name);
        } else {
            void *pc;
            memcpy(&pc, &k->fn, sizeof pc);
            char sym[200];
            cask__symbolize(pc, false, sym, sizeof sym);
            snprintf(name, sizeof name, "(unnamed) %s", sym);
        }
        kib(a, sizeof a, pct(k, 0.5, page));
        kib(b, sizeof b, pct(k, 0.99, page));
        kib(c, sizeof c, k->max);
        fprintf(f, "  %-40s %8" PRIu64 " %9s %9s %9s\n", name, k->count, a, b, c);
    }
    if (u->others)
        fprintf(f, "  (%" PRIu64 " more tasks under other names, not broken down)\n", u->others);
    fflush(f);
}

int cask__stackuse_start(cask_loop *l)
{
    struct cask__stackuse *u = cask__calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    u->stack_size = l->stack_size;
    l->diag->stackuse = u;
    return 0;
}

void cask__stackuse_stop(cask_loop *l)
{
    struct cask__stackuse *u = l->diag->stackuse;
    if (!u)
        return;
    struct report r = {u, l->diag->out};
    if (u->n)
        cask__on_big_stack(report_big, &r);
    l->diag->stackuse = NULL;
    cask__free(u->keys);
    cask__free(u);
}

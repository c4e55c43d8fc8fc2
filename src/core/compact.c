/*
 * compact.c: compact tasks (libaco's copy stacks, done safely). Every compact task of a loop
 * runs on one shared run stack, always at the same addresses; when a different compact task
 * needs the run stack, the bytes the previous owner actually uses ([saved sp, top)) are copied
 * to its save buffer, and copied back before it runs again. The copy is lazy (a task that
 * parks and is the next compact task to run pays nothing) and always done from a context that
 * is not on the run stack (the scheduler's, or an ordinary task's). Records that other parties
 * point to while a task is parked live in the task's home (CASK__REC), never on the run stack.
 * In debug mode the run stack is saved and mprotect'ed whenever no compact task runs on it, so
 * a pointer into a parked compact task's stack faults where it is used, and the report names
 * the task.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <sys/mman.h>
#include <unistd.h>

#if CASK__ASAN
void __asan_unpoison_memory_region(const volatile void *addr, size_t size);
#endif

#define IMG_ALIGN 32u
#define IMG_GUESS_MAX 1024u /* a new task's inline buffer is sized like the last image, up to */

static size_t round_img(size_t n) { return (n + IMG_ALIGN - 1) & ~(size_t)(IMG_ALIGN - 1); }

static int run_stack_get(cask_loop *l)
{
    int rc = cask__stack_pool_new(&l->run_pool, l->stack_size, l->stack_gap);
    if (rc)
        return rc;
    rc = cask__stack_get(l->run_pool, &l->run);
    if (rc) {
        cask__stack_pool_free(l->run_pool);
        l->run_pool = NULL;
        l->run.lo = l->run.hi = NULL;
    }
    return rc;
}

int cask__compact_start(cask_loop *l, cask_task *t)
{
    if (CASK__UNLIKELY(!l->run.lo)) {
        int rc = run_stack_get(l);
        if (rc)
            return rc;
    }
    uint32_t cap = l->cx_guess ? l->cx_guess : 256;
    struct cask__cx *c = cask__malloc(sizeof *c + cap);
    if (!c)
        return -ENOMEM;
    c->big = NULL;
    c->len = 0;
    c->cap = cap;
    c->bigcap = 0;
    c->fresh = 1;
    t->cx = c;
    t->stack = l->run;
    l->cx_bytes += sizeof *c + cap;
    return 0;
}

/* Copies the run stack's image of t (parked or ready, switched out) to its save buffer. */
static void save(cask_loop *l, cask_task *t)
{
    struct cask__cx *c = t->cx;
    char *sp = t->ctx.sp;
    CASK__CHECK(sp >= l->run.lo && sp < l->run.hi, "compact task '%s': saved sp outside the run stack",
                cask_task_name(t));
    size_t n = (size_t)(l->run.hi - sp);
    char *dst = (char *)c->img;
    if (n > c->cap) {
        if (c->bigcap < n) {
            size_t want = round_img(n + n / 4);
            char *b = cask__realloc(c->big, want);
            CASK__CHECK(b != NULL, "no memory to save compact task '%s' (%zu bytes of stack)",
                        cask_task_name(t), n);
            l->cx_bytes += want - c->bigcap;
            c->big = b;
            c->bigcap = (uint32_t)want;
        }
        dst = c->big;
    } else {
        if (c->big) { /* the peak is over: back to the inline buffer */
            cask__free(c->big);
            l->cx_bytes -= c->bigcap;
            c->big = NULL;
            c->bigcap = 0;
        }
        if (n + 64 <= IMG_GUESS_MAX)
            l->cx_guess = (uint32_t)round_img(n + 16);
    }
    memcpy(dst, sp, n);
    c->len = (uint32_t)n;
    l->cx_copied += n;
}

static void load(cask_loop *l, cask_task *t)
{
    struct cask__cx *c = t->cx;
    if (c->fresh) {
        c->fresh = 0;
        cask__ctx_make(&t->ctx, l->run.lo, (size_t)(l->run.hi - l->run.lo), cask__task_main, t);
        return;
    }
    size_t n = c->len;
    CASK__CHECK(n > 0, "compact task '%s' has no saved image", cask_task_name(t));
    memcpy(l->run.hi - n, n > c->cap ? c->big : (char *)c->img, n);
    c->len = 0;
    l->cx_copied += n;
}

void cask__compact_in(cask_loop *l, cask_task *t)
{
    if (l->run_owner == t)
        return;
    if (l->run_protected) {
        CASK__CHECK(mprotect(l->run.lo, (size_t)(l->run.hi - l->run.lo), PROT_READ | PROT_WRITE) == 0,
                    "compact debug: mprotect: %s", strerror(errno));
        l->run_protected = false;
    }
#if CASK__ASAN
    /* frames of the previous owner left their red zones poisoned: the copies read and write
     * raw bytes (the incoming frames run without red zones until they return) */
    __asan_unpoison_memory_region(l->run.lo, (size_t)(l->run.hi - l->run.lo));
#endif
    if (l->run_owner)
        save(l, l->run_owner);
    l->run_owner = t;
    load(l, t);
}

void cask__compact_out(cask_loop *l)
{
    if (CASK__LIKELY(!l->compact_debug) || !l->run_owner || l->run_protected)
        return;
    cask_task *t = l->run_owner;
#if CASK__ASAN
    __asan_unpoison_memory_region(l->run.lo, (size_t)(l->run.hi - l->run.lo));
#endif
    save(l, t);
    l->run_owner = NULL;
    l->run_last = t;
    CASK__CHECK(mprotect(l->run.lo, (size_t)(l->run.hi - l->run.lo), PROT_NONE) == 0,
                "compact debug: mprotect: %s", strerror(errno));
    l->run_protected = true;
}

void cask__compact_end(cask_loop *l, cask_task *t)
{
    struct cask__cx *c = t->cx;
    if (!c)
        return;
    if (l->run_owner == t)
        l->run_owner = NULL;
    if (l->run_last == t)
        l->run_last = NULL;
    l->cx_bytes -= sizeof *c + c->cap + c->bigcap;
    cask__free(c->big);
    cask__free(c);
    t->cx = NULL;
}

void cask__compact_close(cask_loop *l)
{
    if (!l->run_pool)
        return;
    if (l->run_protected)
        mprotect(l->run.lo, (size_t)(l->run.hi - l->run.lo), PROT_READ | PROT_WRITE);
    cask__stack_pool_free(l->run_pool);
    l->run_pool = NULL;
    l->run.lo = l->run.hi = NULL;
}

/* ---- the debug report (called from the SIGSEGV handler: signal-safe) ---- */

static void put(char *buf, size_t *n, size_t cap, const char *s)
{
    while (*s && *n < cap)
        buf[(*n)++] = *s++;
}

static void put_name(char *buf, size_t *n, size_t cap, const cask_task *t)
{
    if (t->name[0]) {
        put(buf, n, cap, t->name);
        return;
    }
    char tmp[24];
    int k = 0;
    uint64_t v = t->id;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(buf, n, cap, "Task-");
    while (k && *n < cap)
        buf[(*n)++] = tmp[--k];
}

bool cask__compact_fault(const void *addr)
{
    cask_loop *l = cask__loop;
    if (!l || !l->run_protected || !cask__on_run_stack(l, addr))
        return false;
    char msg[320];
    size_t n = 0;
    put(msg, &n, sizeof msg, "cask: compact debug: ");
    if (l->current) {
        put(msg, &n, sizeof msg, "task '");
        put_name(msg, &n, sizeof msg, l->current);
        put(msg, &n, sizeof msg, "'");
    } else {
        put(msg, &n, sizeof msg, "the loop (a callback or cask itself)");
    }
    put(msg, &n, sizeof msg, " used a pointer into the stack of parked compact task '");
    if (l->run_last)
        put_name(msg, &n, sizeof msg, l->run_last);
    else
        put(msg, &n, sizeof msg, "?");
    put(msg, &n, sizeof msg, "' (no pointer into a parked compact task's stack may be used by another task)\n");
    ssize_t w = write(2, msg, n);
    (void)w;
    return true;
}

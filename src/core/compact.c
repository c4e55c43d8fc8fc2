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

#define IMG_ALIGN 16u
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

/*
 * The debug mode: every compact task runs on a stack of its own from the loop's pool (no
 * copies), with its home, boxes and bounces as usual, and its stack is protected (PROT_NONE)
 * whenever it is switched out: any use of a pointer into it by another task, the loop or a
 * thread faults at once, and the fault handler names both tasks.
 */
static int debug_start(cask_loop *l, cask_task *t)
{
    struct cask__cx *c = cask__malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    int rc = cask__stack_get(l->pools[t->pool_index], &t->stack);
    if (rc) {
        cask__free(c);
        t->stack.lo = t->stack.hi = NULL;
        return rc;
    }
    memset(c, 0, sizeof *c);
    t->cx = c;
    cask__ctx_make(&t->ctx, t->stack.lo, (size_t)(t->stack.hi - t->stack.lo) - CASK__HOME_BYTES,
                   cask__task_main, t);
    l->cx_bytes += sizeof *c;
    return 0;
}

static void debug_protect(cask_task *t, bool on)
{
    if (t->cx->prot == on)
        return;
    CASK__CHECK(mprotect(t->stack.lo, (size_t)(t->stack.hi - t->stack.lo),
                         on ? PROT_NONE : PROT_READ | PROT_WRITE) == 0,
                "compact debug: mprotect: %s", strerror(errno));
    t->cx->prot = on;
}

int cask__compact_start(cask_loop *l, cask_task *t)
{
    if (CASK__UNLIKELY(l->compact_debug))
        return debug_start(l, t);
    if (CASK__UNLIKELY(!l->run.lo)) {
        int rc = run_stack_get(l);
        if (rc)
            return rc;
    }
    uint32_t cap = l->cx_guess ? l->cx_guess : 256;
    struct cask__cx *c = cask__malloc(sizeof *c + cap);
    if (!c)
        return -ENOMEM;
    memset(c, 0, sizeof *c);
    c->cap = cap;
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
        /* grows to fit; after a peak (four times what it holds now) it shrinks back */
        if (c->bigcap < n || (c->bigcap > 4096 && c->bigcap / 4 > n)) {
            size_t want = round_img(n + n / 4);
            char *b = cask__realloc(c->big, want);
            CASK__CHECK(b != NULL, "no memory to save compact task '%s' (%zu bytes of stack)",
                        cask_task_name(t), n);
            l->cx_bytes += want;
            l->cx_bytes -= c->bigcap;
            c->big = b;
            c->bigcap = (uint32_t)want;
        }
        dst = c->big;
        if (n + 64 <= IMG_GUESS_MAX)
            l->cx_guess = (uint32_t)round_img(n);
    } else {
        if (c->big) { /* the peak is over: back to the inline buffer */
            cask__free(c->big);
            l->cx_bytes -= c->bigcap;
            c->big = NULL;
            c->bigcap = 0;
        }
        if (n + 64 <= IMG_GUESS_MAX)
            l->cx_guess = (uint32_t)round_img(n);
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
    if (CASK__UNLIKELY(l->compact_debug)) {
        debug_protect(t, false);
        l->run_owner = t;
        return;
    }
    if (l->run_owner == t)
        return;
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
    cask_task *t = l->run_owner;
    if (CASK__LIKELY(!l->compact_debug) || !t || t->state == CASK__T_RUNNING)
        return;
    l->run_owner = NULL;
    debug_protect(t, true);
}

void cask__compact_end(cask_loop *l, cask_task *t)
{
    struct cask__cx *c = t->cx;
    if (!c)
        return;
    if (l->run_owner == t)
        l->run_owner = NULL;
    if (l->compact_debug) {
        debug_protect(t, false);
        cask__stack_put(l->pools[t->pool_index], &t->stack);
    }
    l->cx_bytes -= sizeof *c + c->cap + c->bigcap;
    cask__free(c->big);
    cask__free(c);
    t->cx = NULL;
}

void cask__compact_close(cask_loop *l)
{
    if (!l->run_pool)
        return;
    cask__stack_pool_free(l->run_pool);
    l->run_pool = NULL;
    l->run.lo = l->run.hi = NULL;
}

/* ---- backtraces of parked compact tasks ---- */

/* Reads the word at run-stack address a of t's image (on the run stack or saved); 0 outside. */
static uintptr_t img_word(const cask_loop *l, const cask_task *t, uintptr_t a)
{
    const struct cask__cx *c = t->cx;
    uintptr_t hi = (uintptr_t)l->run.hi, base = hi - c->len;
    if (a < base || a + sizeof(void *) > hi || (a & (sizeof(void *) - 1)))
        return 0;
    const char *img = c->len > c->cap ? c->big : (const char *)c->img;
    uintptr_t v;
    memcpy(&v, img + (a - base), sizeof v);
    return v;
}

int cask__compact_frames(const cask_task *t, void **pcs, int max)
{
    cask_loop *l = t->loop;
    if (l->compact_debug) { /* its own stack, protected while parked */
        bool prot = t->cx->prot;
        if (prot)
            debug_protect((cask_task *)t, false);
        int n = cask__frames_parked(&t->ctx, t->stack.lo, t->stack.hi, pcs, max);
        if (prot)
            debug_protect((cask_task *)t, true);
        return n;
    }
    if (l->run_owner == t || t->cx->fresh)
        return t->cx->fresh ? 0 : cask__frames_parked(&t->ctx, l->run.lo, l->run.hi, pcs, max);
    /* its image is in its save buffer: the same walk, reading the saved bytes */
    uintptr_t sp = (uintptr_t)t->ctx.sp;
#if defined(__x86_64__)
    uintptr_t fp = img_word(l, t, sp + 6 * sizeof(void *)), pc = img_word(l, t, sp + 7 * sizeof(void *));
#else
    uintptr_t fp = img_word(l, t, sp + 10 * sizeof(void *)), pc = img_word(l, t, sp + 11 * sizeof(void *));
#endif
    int n = 0;
    if (pc && n < max)
        pcs[n++] = (void *)pc;
    while (n < max && fp) {
        uintptr_t next = img_word(l, t, fp), ret = img_word(l, t, fp + sizeof(void *));
        if (!ret)
            break;
        pcs[n++] = (void *)ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
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
    if (!l || !l->compact_debug)
        return false;
    const cask_task *owner = NULL;
    for (const cask_task *t = l->all_head; t && !owner; t = t->all_next)
        if (t->cx && t->cx->prot && (const char *)addr >= t->stack.lo &&
            (const char *)addr < t->stack.hi)
            owner = t;
    if (!owner)
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
    put_name(msg, &n, sizeof msg, owner);
    put(msg, &n, sizeof msg,
        "' (no pointer into a parked compact task's stack may be used by another task)\n");
    ssize_t w = write(2, msg, n);
    (void)w;
    return true;
}

/*
 * stack.c: task stacks. Stacks are slots carved out of large anonymous mappings (chunks) and
 * recycled through an array of free slots, so a spawn normally costs no system call. Below
 * every slot lies a guard gap: with MADV_GUARD_INSTALL (Linux 6.13+) guards cost no memory-map
 * entries, so a million stacks fit under vm.max_map_count; on older kernels the first 16,384
 * stacks get an mprotect'd gap and later ones none (documented in docs/design.md). Free slots
 * that stayed unused for a whole trim interval are given back to the kernel (MADV_DONTNEED).
 * A SIGSEGV handler on an alternate stack names the task that ran off its stack, whether the
 * fault hit its own gap or anywhere else in the arena.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <errno.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>) && !defined(CASK_NO_VALGRIND)
#include <valgrind/valgrind.h>
#define CASK__VALGRIND 1
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#define PAGE 4096u
#define CHUNK_BYTES (4u << 20)
#define MPROTECT_GUARD_LIMIT 16384
#define POPULATE_BATCH 32
#define IOV_BATCH 64 /* iovecs on the stack: new_chunk may run on a task's stack */

struct chunk {
    struct chunk *next;
    char *base;
    size_t len;
    unsigned nslots;
    unsigned used; /* slots handed out at least once (bump allocation) */
#ifdef CASK__VALGRIND
    unsigned vg_ids[];
#endif
};

/*
 * A slot is [gap][usable]: the guard gap below, then size - PAGE usable bytes (the size asked
 * for counts one guard page, as it always has). Free slots are kept in an array by their top
 * address, most recently freed last: a spawn takes the warmest. free[0, clean) were given back
 * to the kernel; low is the fewest free slots seen since the last trim, so free[0, low) have
 * not been used for a whole trim interval.
 */
struct cask__stack_pool {
    size_t size;   /* the stack size asked for (usable bytes + one page) */
    size_t gap;    /* guard bytes below each slot; 0: none */
    size_t stride; /* distance between slots */
    struct chunk *chunks;
    char **free;
    size_t nfree, cap, clean, low;
    size_t mapped, trimmed;
    struct cask__stack_pool *thread_next; /* this thread's pools, for the fault handler */
    char *free_inline[16]; /* the free array of a pool that never grew past its first chunk */
};

/* 2: MADV_GUARD_INSTALL works, 1: mprotect guards, 0: none; -1 not probed yet. */
static atomic_int guard_mode = -1;
static atomic_int mprotect_guards;
static atomic_int self_pidfd = -1;
/* 0 once process_madvise refused MADV_POPULATE_WRITE (before Linux 6.13, emulators). */
static atomic_int batch_populate = 1;
/* 1: process_madvise takes MADV_DONTNEED for this process (Linux 6.13+), 0: use madvise. */
static atomic_int batch_dontneed = -1;
static __thread struct cask__stack_pool *thread_pools;

int cask__stack_guard_mode(void)
{
    int m = atomic_load(&guard_mode);
    return m < 0 ? 2 : m;
}

static int get_pidfd(void)
{
    int fd = atomic_load(&self_pidfd);
    if (fd >= 0)
        return fd;
    fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return -1;
    int expect = -1;
    if (!atomic_compare_exchange_strong(&self_pidfd, &expect, fd)) {
        close(fd);
        fd = expect;
    }
    return fd;
}

/* Installs the guard gap at the bottom of every slot of c. */
static void install_guards(struct cask__stack_pool *p, struct chunk *c)
{
    int mode = atomic_load(&guard_mode);
    if (mode == -1 || mode == 2) {
        /* one process_madvise call per IOV_BATCH slots */
        struct iovec iov[IOV_BATCH];
        unsigned done = 0;
        bool ok = true;
        int pidfd = get_pidfd();
        while (ok && done < c->nslots && pidfd >= 0) {
            unsigned n = 0;
            for (; n < IOV_BATCH && done + n < c->nslots; n++) {
                iov[n].iov_base = c->base + (size_t)(done + n) * p->stride;
                iov[n].iov_len = p->gap;
            }
            long r = syscall(SYS_process_madvise, pidfd, iov, n, MADV_GUARD_INSTALL, 0);
            if (r != (long)(n * p->gap))
                ok = false;
            else
                done += n;
        }
        if (done == c->nslots) {
            atomic_store(&guard_mode, 2);
            return;
        }
        /* No process_madvise, or it refused the guard advice. Plain madvise is not tried on
         * its own: emulators such as qemu-user accept unknown advice and do nothing, so a
         * success would prove nothing. mprotect guards work everywhere. */
        atomic_store(&guard_mode, 1);
    }
    for (unsigned i = 0; i < c->nslots; i++) {
        if (atomic_fetch_add(&mprotect_guards, 1) >= MPROTECT_GUARD_LIMIT) {
            atomic_store(&guard_mode, 0);
            return;
        }
        if (mprotect(c->base + (size_t)i * p->stride, p->gap, PROT_NONE) != 0)
            return;
    }
}

size_t cask__stack_gap(size_t asked)
{
    if (asked)
        return (asked + PAGE - 1) & ~(size_t)(PAGE - 1);
    /* guard markers cost no memory of their own, only page-table entries: a gap wider than
     * any likely frame where they exist; an mprotect'd gap costs nothing but address space */
    return CASK__STACK_GAP_DEFAULT;
}

int cask__stack_pool_new(struct cask__stack_pool **out, size_t size, size_t gap)
{
    struct cask__stack_pool *p = cask__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->size = (size + PAGE - 1) & ~(size_t)(PAGE - 1);
    p->gap = (gap + PAGE - 1) & ~(size_t)(PAGE - 1);
    p->stride = p->size - PAGE + p->gap;
    p->free = p->free_inline;
    p->cap = sizeof p->free_inline / sizeof p->free_inline[0];
    p->thread_next = thread_pools;
    thread_pools = p;
    *out = p;
    return 0;
}

void cask__stack_pool_free(struct cask__stack_pool *p)
{
    if (!p)
        return;
    for (struct cask__stack_pool **pp = &thread_pools; *pp; pp = &(*pp)->thread_next)
        if (*pp == p) {
            *pp = p->thread_next;
            break;
        }
    struct chunk *c = p->chunks;
    while (c) {
        struct chunk *next = c->next;
#ifdef CASK__VALGRIND
        for (unsigned i = 0; i < c->used; i++)
            VALGRIND_STACK_DEREGISTER(c->vg_ids[i]);
#endif
        munmap(c->base, c->len);
        cask__free(c);
        c = next;
    }
    if (p->free != p->free_inline)
        munmap(p->free, p->cap * sizeof(char *));
    cask__free(p);
}

static int new_chunk(struct cask__stack_pool *p)
{
    /* a loop that runs a few tasks maps (and guards) 16 slots; a growing pool maps 4 MiB or
     * 64 slots at a time, whichever is more */
    size_t want = 16 * p->stride;
    if (p->mapped >= 16 && want < CHUNK_BYTES)
        want = CHUNK_BYTES;
    if (p->mapped >= 16 && want < 64 * p->stride)
        want = 64 * p->stride;
    unsigned nslots = (unsigned)(want / p->stride);
    size_t len = (size_t)nslots * p->stride;
    if (p->cap < p->mapped + nslots) {
        /* the free array holds every slot, so a put never fails; it is mapped, not
         * allocated, and grows by mremap (the pages it never reaches cost nothing) */
        size_t cap = p->cap ? p->cap * 2 : 4096;
        while (cap < p->mapped + nslots)
            cap *= 2;
        void *f =
            p->free != p->free_inline
                ? mremap(p->free, p->cap * sizeof(char *), cap * sizeof(char *), MREMAP_MAYMOVE)
                : mmap(NULL, cap * sizeof(char *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (f == MAP_FAILED)
            return -ENOMEM;
        if (p->free == p->free_inline)
            memcpy(f, p->free_inline, p->nfree * sizeof(char *));
        p->free = f;
        p->cap = cap;
    }
    struct chunk *c;
#ifdef CASK__VALGRIND
    c = cask__malloc(sizeof *c + nslots * sizeof(unsigned));
#else
    c = cask__malloc(sizeof *c);
#endif
    if (!c)
        return -ENOMEM;
    void *m =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        cask__free(c);
        return -ENOMEM;
    }
    /* no transparent huge pages on stacks: with THP "always", the first touch of a stack
     * without guards could fault in 2 MiB for 32 tasks that each need 4 KiB */
    madvise(m, len, MADV_NOHUGEPAGE);
    c->base = m;
    c->len = len;
    c->nslots = nslots;
    c->used = 0;
    c->next = p->chunks;
    p->chunks = c;
    if (p->gap)
        install_guards(p, c);
    return 0;
}

/*
 * The first touch of a fresh stack page is a page fault: a trap, the kernel's fault path and,
 * on a virtual machine, often an exit to the hypervisor. Fresh slots are handed out in order,
 * so when a batch of them is about to be used the top page of each (where every task starts)
 * is faulted in by one process_madvise(MADV_POPULATE_WRITE) call instead of one trap each.
 */
static void populate_tops(struct cask__stack_pool *p, struct chunk *c)
{
    struct iovec iov[POPULATE_BATCH];
    unsigned n = 0;
    for (unsigned i = c->used; i < c->nslots && n < POPULATE_BATCH; i++, n++) {
        iov[n].iov_base = c->base + (size_t)(i + 1) * p->stride - PAGE;
        iov[n].iov_len = PAGE;
    }
    int pidfd = get_pidfd();
    if (pidfd < 0 || (syscall(SYS_process_madvise, pidfd, iov, n, MADV_POPULATE_WRITE, 0) < 0 &&
                      errno != ENOMEM && errno != EAGAIN && errno != EINTR))
        atomic_store(&batch_populate, 0); /* not supported here: single faults, as before */
}

int cask__stack_get(struct cask__stack_pool *p, struct cask__stack *s)
{
    char *top;
    if (CASK__LIKELY(p->nfree)) {
        top = p->free[--p->nfree];
        if (CASK__UNLIKELY(p->nfree < p->low)) {
            p->low = p->nfree;
            if (p->nfree < p->clean)
                p->clean = p->nfree;
        }
    } else {
        struct chunk *c = p->chunks;
        if (!c || c->used == c->nslots) {
            int rc = new_chunk(p);
            if (rc)
                return rc;
            c = p->chunks;
        }
        /* (only once the pool has grown past a batch: a loop running a few tasks does not
         * pay for pages it will never touch) */
        if (c->used % POPULATE_BATCH == 0 && p->mapped >= POPULATE_BATCH &&
            atomic_load_explicit(&batch_populate, memory_order_relaxed))
            populate_tops(p, c);
        char *slot = c->base + (size_t)c->used * p->stride;
        top = slot + p->stride;
#ifdef CASK__VALGRIND
        c->vg_ids[c->used] = VALGRIND_STACK_REGISTER(slot + p->gap, top);
#endif
        c->used++;
        p->mapped++;
    }
    s->lo = top - (p->size - PAGE);
    s->hi = top;
    return 0;
}

void cask__stack_put(struct cask__stack_pool *p, const struct cask__stack *s)
{
    p->free[p->nfree++] = s->hi;
}

/* Gives the pages of free[from, to) back to the kernel (their guards stay). */
static void release(struct cask__stack_pool *p, size_t from, size_t to)
{
    size_t usable = p->size - PAGE;
    if (atomic_load(&batch_dontneed) != 0) {
        int pidfd = get_pidfd();
        struct iovec iov[IOV_BATCH];
        while (from < to && pidfd >= 0) {
            unsigned n = 0;
            for (; n < IOV_BATCH && from + n < to; n++) {
                iov[n].iov_base = p->free[from + n] - usable;
                iov[n].iov_len = usable;
            }
            long r = syscall(SYS_process_madvise, pidfd, iov, n, MADV_DONTNEED, 0);
            if (r != (long)(n * usable))
                break;
            atomic_store(&batch_dontneed, 1);
            from += n;
        }
        if (from < to)
            atomic_store(&batch_dontneed, 0);
    }
    for (; from < to; from++)
        madvise(p->free[from] - usable, usable, MADV_DONTNEED);
}

size_t cask__stack_pool_trim(struct cask__stack_pool *p, size_t keep)
{
    size_t end = p->nfree > keep ? p->nfree - keep : 0;
    if (end > p->low)
        end = p->low; /* only slots nobody took since the last trim */
    size_t n = 0;
    if (end > p->clean) {
        n = end - p->clean;
        release(p, p->clean, end);
        p->clean = end;
        p->trimmed += n;
    }
    p->low = p->nfree;
    return n;
}

bool cask__stack_pool_trimmable(const struct cask__stack_pool *p, size_t keep)
{
    return p->nfree > keep && p->nfree - keep > p->clean;
}

size_t cask__stack_pool_size(const struct cask__stack_pool *p) { return p->size; }
size_t cask__stack_pool_mapped(const struct cask__stack_pool *p) { return p->mapped; }
size_t cask__stack_pool_free_count(const struct cask__stack_pool *p) { return p->nfree; }
size_t cask__stack_pool_resident_free(const struct cask__stack_pool *p)
{
    return p->nfree - p->clean;
}
size_t cask__stack_pool_trimmed(const struct cask__stack_pool *p) { return p->trimmed; }

/* ---- overflow reporting ---- */

static struct sigaction old_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static __thread void *altstack;

static void put_str(char *buf, size_t *n, size_t cap, const char *s)
{
    while (*s && *n < cap)
        buf[(*n)++] = *s++;
}

static void put_num(char *buf, size_t *n, size_t cap, size_t v)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k && *n < cap)
        buf[(*n)++] = tmp[--k];
}

/* The stack pointer of the interrupted context. */
static char *fault_sp(void *uctx)
{
    ucontext_t *uc = uctx;
#if defined(__x86_64__)
    return (char *)(uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#else
    return (char *)(uintptr_t)uc->uc_mcontext.sp;
#endif
}

/* The pool of this thread whose arena holds addr, or NULL. */
static const struct cask__stack_pool *arena_of(const char *addr)
{
    for (const struct cask__stack_pool *p = thread_pools; p; p = p->thread_next)
        for (const struct chunk *c = p->chunks; c; c = c->next)
            if (addr >= c->base && addr < c->base + c->len)
                return p;
    return NULL;
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    cask_loop *l = cask__loop;
    cask_task *t = l ? l->current : NULL;
    char *addr = info->si_addr;
    char *sp = fault_sp(uctx);
    if (cask__compact_fault(addr)) { /* compact debug mode: a pointer into a parked stack */
        if (t)
            cask__diag_overflow_backtrace(t, uctx);
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    /* A task ran off the bottom of its stack: the fault is in its guard gap, or a frame wider
     * than the gap reached into the arena below (the stack pointer is below the stack), or
     * the fault is anywhere in the arena while the stack pointer is below this stack. */
    bool in_arena = arena_of(addr) != NULL;
    bool below = t && t->stack.lo && (addr < t->stack.lo || sp < t->stack.lo) &&
                 (in_arena || arena_of(sp) || addr >= t->stack.lo - PAGE);
    if (below || (t && in_arena)) {
        char msg[256];
        size_t n = 0;
        put_str(msg, &n, sizeof msg, "cask: task '");
        if (t->name[0]) {
            put_str(msg, &n, sizeof msg, t->name);
        } else { /* the default name is made when first asked for: make it here */
            put_str(msg, &n, sizeof msg, "Task-");
            put_num(msg, &n, sizeof msg, (size_t)t->id);
        }
        if (below) {
            put_str(msg, &n, sizeof msg, "' overflowed its ");
            put_num(msg, &n, sizeof msg, (size_t)(t->stack.hi - t->stack.lo) + PAGE);
            put_str(msg, &n, sizeof msg, "-byte stack (a frame of ");
            put_num(msg, &n, sizeof msg, (size_t)(t->stack.hi - (addr < sp ? addr : sp)));
            put_str(msg, &n, sizeof msg, " bytes below its top)\n");
        } else {
            put_str(msg, &n, sizeof msg, "' touched the guard below another task's stack");
            put_str(msg, &n, sizeof msg, " (a pointer into a stack that is not its own?)\n");
        }
        ssize_t w = write(2, msg, n);
        (void)w;
        cask__diag_overflow_backtrace(t, uctx); /* where it was, innermost first */
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    if (!t && in_arena) {
        static const char m[] = "cask: fault in the task stack arena outside any task\n";
        ssize_t w = write(2, m, sizeof m - 1);
        (void)w;
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    /* not ours: hand the fault to whoever handled it before */
    if (old_segv.sa_flags & SA_SIGINFO && old_segv.sa_sigaction) {
        old_segv.sa_sigaction(sig, info, uctx);
        return;
    }
    if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN && old_segv.sa_handler) {
        old_segv.sa_handler(sig);
        return;
    }
    signal(SIGSEGV, SIG_DFL); /* the faulting instruction runs again and ends the process */
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
}

void cask__stack_install_overflow_handler(void)
{
    if (!altstack) {
        stack_t cur;
        if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size) {
            altstack = cur.ss_sp; /* the thread already has one (sanitizers install theirs) */
        } else {
            size_t sz = 64 * 1024;
            void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                return;
            stack_t ss = {.ss_sp = m, .ss_size = sz, .ss_flags = 0};
            if (sigaltstack(&ss, NULL) != 0) {
                munmap(m, sz);
                return;
            }
            altstack = m;
        }
    }
    pthread_once(&handler_once, install_handler);
}

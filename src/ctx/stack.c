/*
 * stack.c: task stacks. Stacks are slots carved out of large anonymous mappings (chunks) and
 * recycled through a free list, so a spawn normally costs no system call. The lowest page of
 * every slot is a guard page: with MADV_GUARD_INSTALL (Linux 6.13+) guards cost no memory-map
 * entries, so a million stacks fit under vm.max_map_count; on older kernels the first 16,384
 * stacks get an mprotect'd guard and later ones none (documented in docs/design.md). A SIGSEGV
 * handler on an alternate stack names the task whose guard page was hit.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>) && !defined(CASK_NO_VALGRIND)
#include <valgrind/valgrind.h>
#define CASK__VALGRIND 1
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

struct cask__stack_pool {
    size_t size; /* slot size, guard page included */
    bool guard;
    struct chunk *chunks;
    char *free_top; /* free list of slots, linked through their top word */
    size_t nfree, mapped;
};

/* 2: MADV_GUARD_INSTALL works, 1: mprotect guards, 0: none; -1 not probed yet. */
static atomic_int guard_mode = -1;
static atomic_int mprotect_guards;
static atomic_int self_pidfd = -1;

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

/* Installs the guard page at the bottom of every slot of c. */
static void install_guards(struct cask__stack_pool *p, struct chunk *c)
{
    int mode = atomic_load(&guard_mode);
    if (mode == -1 || mode == 2) {
        /* one process_madvise call per 128 slots */
        struct iovec iov[128];
        unsigned done = 0;
        bool ok = true;
        int pidfd = get_pidfd();
        while (ok && done < c->nslots && pidfd >= 0) {
            unsigned n = 0;
            for (; n < 128 && done + n < c->nslots; n++) {
                iov[n].iov_base = c->base + (size_t)(done + n) * p->size;
                iov[n].iov_len = PAGE;
            }
            long r = syscall(SYS_process_madvise, pidfd, iov, n, MADV_GUARD_INSTALL, 0);
            if (r != (long)n * PAGE)
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
        if (mprotect(c->base + (size_t)i * p->size, PAGE, PROT_NONE) != 0)
            return;
    }
}

int cask__stack_pool_new(struct cask__stack_pool **out, size_t size, bool guard)
{
    struct cask__stack_pool *p = cask__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->size = (size + PAGE - 1) & ~(size_t)(PAGE - 1);
    p->guard = guard;
    *out = p;
    return 0;
}

void cask__stack_pool_free(struct cask__stack_pool *p)
{
    if (!p)
        return;
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
    cask__free(p);
}

static int new_chunk(struct cask__stack_pool *p)
{
    unsigned nslots = p->size >= CHUNK_BYTES ? 1 : (unsigned)(CHUNK_BYTES / p->size);
    size_t len = (size_t)nslots * p->size;
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
    c->base = m;
    c->len = len;
    c->nslots = nslots;
    c->used = 0;
    c->next = p->chunks;
    p->chunks = c;
    if (p->guard)
        install_guards(p, c);
    return 0;
}

int cask__stack_get(struct cask__stack_pool *p, struct cask__stack *s)
{
    char *slot;
    if (p->free_top) {
        char *top = p->free_top;
        p->free_top = *(char **)(top - sizeof(char *));
        p->nfree--;
        slot = top - p->size;
    } else {
        struct chunk *c = p->chunks;
        if (!c || c->used == c->nslots) {
            int rc = new_chunk(p);
            if (rc)
                return rc;
            c = p->chunks;
        }
        slot = c->base + (size_t)c->used * p->size;
#ifdef CASK__VALGRIND
        c->vg_ids[c->used] = VALGRIND_STACK_REGISTER(slot + PAGE, slot + p->size);
#endif
        c->used++;
        p->mapped++;
    }
    s->lo = slot + PAGE;
    s->hi = slot + p->size;
    return 0;
}

void cask__stack_put(struct cask__stack_pool *p, const struct cask__stack *s)
{
    *(char **)(s->hi - sizeof(char *)) = p->free_top;
    p->free_top = s->hi;
    p->nfree++;
}

size_t cask__stack_pool_size(const struct cask__stack_pool *p) { return p->size; }
size_t cask__stack_pool_mapped(const struct cask__stack_pool *p) { return p->mapped; }

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

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    cask_loop *l = cask__loop;
    cask_task *t = l ? l->current : NULL;
    char *addr = info->si_addr;
    if (t && addr < t->stack.lo && addr >= t->stack.lo - PAGE) {
        char msg[160];
        size_t n = 0;
        put_str(msg, &n, sizeof msg, "cask: task '");
        put_str(msg, &n, sizeof msg, t->name);
        put_str(msg, &n, sizeof msg, "' overflowed its ");
        put_num(msg, &n, sizeof msg, (size_t)(t->stack.hi - t->stack.lo) + PAGE);
        put_str(msg, &n, sizeof msg, "-byte stack\n");
        ssize_t w = write(2, msg, n);
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

/*
 * ctx.c: portable half of the context switch. Builds the first frame of a new context for
 * the assembly in switch_<arch>.S and tells AddressSanitizer and ThreadSanitizer about every
 * switch; this is the only place that knows about them.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <pthread.h>

void cask__ctx_start(void);

#if CASK__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif
#if CASK__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "cask: no context switch for this architecture yet (x86_64 and aarch64 are supported)"
#endif

void cask__ctx_make(struct cask__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    uint64_t *sp = (uint64_t *)(top - 64 - 16);
    memset(sp, 0, 80);
    ((uint32_t *)sp)[0] = 0x1f80;       /* MXCSR: all exceptions masked, round to nearest */
    ((uint16_t *)sp)[2] = 0x037f;       /* x87 control word: the ABI default */
    sp[3] = (uint64_t)(uintptr_t)entry; /* r13 */
    sp[4] = (uint64_t)(uintptr_t)arg;   /* r12 */
    sp[7] = (uint64_t)(uintptr_t)cask__ctx_start;
#else
    uint64_t *sp = (uint64_t *)(top - 176 - 16);
    memset(sp, 0, 192);
    sp[0] = (uint64_t)(uintptr_t)arg;              /* x19 */
    sp[1] = (uint64_t)(uintptr_t)entry;            /* x20 */
    sp[11] = (uint64_t)(uintptr_t)cask__ctx_start; /* x30 */
#endif
    c->sp = sp;
    c->stack_lo = lo;
    c->stack_size = size;
    c->asan_fake = NULL;
#if CASK__TSAN
    c->tsan_fiber = __tsan_create_fiber(0);
#else
    c->tsan_fiber = NULL;
#endif
}

void cask__ctx_thread(struct cask__ctx *c)
{
    memset(c, 0, sizeof *c);
#if CASK__ASAN
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            c->stack_lo = addr;
            c->stack_size = size;
        }
        pthread_attr_destroy(&attr);
    }
#endif
#if CASK__TSAN
    c->tsan_fiber = __tsan_get_current_fiber();
#endif
}

#if CASK__ASAN || CASK__TSAN
void cask__ctx_switch(struct cask__ctx *from, struct cask__ctx *to, int last)
{
#if CASK__ASAN
    __sanitizer_start_switch_fiber(last ? NULL : &from->asan_fake, to->stack_lo, to->stack_size);
#endif
#if CASK__TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)last;
    cask__ctx_swap(&from->sp, to->sp);
#if CASK__ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}
#endif

void cask__ctx_entered(void)
{
#if CASK__ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

void cask__ctx_destroy(struct cask__ctx *c)
{
#if CASK__TSAN
    if (c->tsan_fiber)
        __tsan_destroy_fiber(c->tsan_fiber);
#endif
    c->tsan_fiber = NULL;
}

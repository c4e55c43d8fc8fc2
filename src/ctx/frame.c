/*
 * frame.c: stack walks by frame pointers, for backtraces. A parked context's first frame is
 * read from what cask__ctx_swap saved on its stack (the layouts of switch_x86_64.S and
 * switch_aarch64.S); from there, and from any running frame, each frame record holds the
 * caller's frame pointer and the return address (x86_64: [rbp] and [rbp+8]; aarch64: the
 * AAPCS64 frame record [x29] and [x29+8]). The walk reads only inside the stack given and
 * stops at a frame pointer that does not climb, so a frame built without frame pointers ends
 * the trace instead of faulting.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <ucontext.h>

int cask__frames_from(void *fp, void *pc, const void *lo, const void *hi, void **pcs, int max)
{
    int n = 0;
    if (pc && n < max)
        pcs[n++] = pc;
    uintptr_t f = (uintptr_t)fp, l = (uintptr_t)lo, h = (uintptr_t)hi;
    while (n < max && f >= l && f + 2 * sizeof(void *) <= h && (f & (sizeof(void *) - 1)) == 0) {
        void **rec = (void **)f;
        void *ret = rec[1];
        uintptr_t next = (uintptr_t)rec[0];
        if (!ret)
            break;
        pcs[n++] = ret;
        if (next <= f) /* frames climb towards the stack's top; anything else ends the walk */
            break;
        f = next;
    }
    return n;
}

int cask__frames_parked(const struct cask__ctx *c, const void *lo, const void *hi, void **pcs,
                        int max)
{
    void **sp = c->sp;
    if (!sp || (uintptr_t)sp < (uintptr_t)lo || (uintptr_t)sp >= (uintptr_t)hi)
        return 0;
#if defined(__x86_64__)
    /* [sp]: MXCSR and x87 control word, then r15 r14 r13 r12 rbx rbp, then the return address */
    return cask__frames_from(sp[6], sp[7], lo, hi, pcs, max);
#elif defined(__aarch64__)
    /* x19..x28 at [sp, sp+80), then x29 (the frame pointer) and x30 (the return address) */
    return cask__frames_from(sp[10], sp[11], lo, hi, pcs, max);
#else
    (void)pcs;
    (void)max;
    return 0;
#endif
}

int cask__frames_ucontext(const void *uc, const void *lo, const void *hi, void **pcs, int max)
{
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return cask__frames_from((void *)u->uc_mcontext.gregs[REG_RBP],
                             (void *)u->uc_mcontext.gregs[REG_RIP], lo, hi, pcs, max);
#elif defined(__aarch64__)
    return cask__frames_from((void *)u->uc_mcontext.regs[29], (void *)u->uc_mcontext.pc, lo, hi,
                             pcs, max);
#else
    (void)u;
    (void)lo;
    (void)hi;
    (void)pcs;
    (void)max;
    return 0;
#endif
}

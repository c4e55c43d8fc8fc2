/*
 * switch_aarch64.S: the context switch for aarch64 (AAPCS64). Saves x19-x30, d8-d15 and the
 * floating-point control register FPCR of the running context on its stack, stores its stack
 * pointer, and resumes the other context.
 *
 *   void cask__ctx_swap(void **save_sp, void *new_sp);
 *   cask__ctx_start: first code of a new context; x19 = argument, x20 = entry function.
 */
#if defined(__aarch64__)
    .text
    .globl cask__ctx_swap
    .hidden cask__ctx_swap
    .type cask__ctx_swap, %function
    .p2align 4
cask__ctx_swap:
    .cfi_startproc
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .cfi_endproc
    .size cask__ctx_swap, .-cask__ctx_swap

    .globl cask__ctx_start
    .hidden cask__ctx_start
    .type cask__ctx_start, %function
    .p2align 4
cask__ctx_start:
    .cfi_startproc
    .cfi_undefined x30
    mov x29, #0
    mov x0, x19
    blr x20
    brk #0
    .cfi_endproc
    .size cask__ctx_start, .-cask__ctx_start
#endif
    .section .note.GNU-stack,"",%progbits

/*
 * switch_x86_64.S: the context switch for x86_64 (System V ABI). Saves the callee-saved
 * registers and the floating-point control state (MXCSR, x87 control word) of the running
 * context on its stack, stores its stack pointer, and resumes the other context.
 *
 *   void cask__ctx_swap(void **save_sp, void *new_sp);
 *   cask__ctx_start: first code of a new context; r12 = argument, r13 = entry function.
 */
#if defined(__x86_64__)
    .text
    .globl cask__ctx_swap
    .hidden cask__ctx_swap
    .type cask__ctx_swap, @function
    .p2align 4
cask__ctx_swap:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size cask__ctx_swap, .-cask__ctx_swap

    .globl cask__ctx_start
    .hidden cask__ctx_start
    .type cask__ctx_start, @function
    .p2align 4
cask__ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size cask__ctx_start, .-cask__ctx_start
#endif
    .section .note.GNU-stack,"",@progbits

/* triple_fault.S: a guest that faults with no IDT: a triple fault, which
 * the monitor must report and stop on. */
    .text
    .globl _start
_start:
    movq 0x3ff00000, %rax   /* not mapped in the guest's page tables */
1:  jmp 1b
    .section .note.GNU-stack,"",@progbits

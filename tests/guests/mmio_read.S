/* mmio_read.S: a guest that maps and reads guest-physical memory that no
 * memslot backs; the monitor must stop it rather than invent data. */
    .text
    .globl _start
_start:
    /* PD entry 500 of the firmware's low PD (3rd page-table page): a 2 MiB
     * page at GPA 0x3e800000, far above this guest's RAM. */
    movq $0x3e800083, 0x12000 + 500 * 8
    movq 0x3e800000, %rax
1:  jmp 1b
    .section .note.GNU-stack,"",@progbits

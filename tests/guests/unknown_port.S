/* unknown_port.S: a guest that writes to a port no device owns; the
 * monitor must stop it, naming the exit and the RIP. */
    .text
    .globl _start
_start:
    mov $0x80, %dx
    mov $0x42, %al
    out %al, %dx
1:  jmp 1b
    .section .note.GNU-stack,"",@progbits

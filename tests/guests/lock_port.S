/* lock_port.S: /bin/hvpatch-lock of the test initramfs
 * (tests/lib/linux-guest.sh): asks `hvpatch run` for the kernel text lock
 * by writing one byte to I/O port 0xe0 from user space. Debian's cloud
 * kernel has no /dev/port (CONFIG_DEVPORT is off), so this takes the port
 * with ioperm(2) and writes it itself. Exit status 0, or 1 if ioperm
 * fails (not root, or no CONFIG_X86_IOPL_IOPERM). */
#define SYS_ioperm 173
#define SYS_exit 60
#define LOCK_PORT 0xe0

    .text
    .globl _start
_start:
    mov $SYS_ioperm, %eax
    mov $LOCK_PORT, %edi
    mov $1, %esi
    mov $1, %edx
    syscall
    test %rax, %rax
    jnz 1f
    xor %eax, %eax
    out %al, $LOCK_PORT
    xor %edi, %edi
    jmp 2f
1:  mov $1, %edi
2:  mov $SYS_exit, %eax
    syscall
    .section .note.GNU-stack, "", @progbits

/* linux_qemu_stub.S: a 64 KiB "BIOS" for QEMU's microvm machine that does
 * what KVM_SET_SREGS/KVM_SET_REGS will do in hvpatch: enter a Linux kernel
 * in the state fw_linux_cpu_state() describes, read from a handoff block
 * that linux_boot_tool writes into guest RAM with everything else
 * fw_linux_setup() produced. Test-only: lets tests/integration/
 * linux_boot_protocol.bats boot Debian's kernel on our boot structures
 * under TCG, where no CPU feature is missing (kvm_pvm cannot run it).
 *
 * Handoff block at HANDOFF (all little-endian):
 *   +0  u32 kind: 1 = 64-bit bzImage entry, 2 = PVH
 *   +8  u64 rip      +16 u64 rsi      +24 u64 rbx
 *   +32 u64 cr3      +40 u64 cr0      +48 u64 cr4    +56 u64 efer
 *   +64 u16 GDT limit, u32 GDT base (an lgdt operand)
 *   +80 u8  set by the stub once it has entered the kernel
 * Selectors are the boot protocol's: CS 0x10, DS/ES/SS 0x18.
 */
#define ROM_BASE 0xffff0000
#define HANDOFF 0x6000

    .code16
    .text
    .globl _start
_start:
    cli
    cld
    /* A second pass through the reset vector is Linux rebooting through
     * its BIOS path (machine_real_restart): do what the firmware's reset
     * vector at 0xffff0 does (QEMU maps this ROM over it). */
    xorw %ax, %ax
    movw %ax, %ds
    cmpb $0, HANDOFF + 80
    jne reset
    movb $1, HANDOFF + 80
    lgdtl %cs:rom_gdtr
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(ROM_BASE + pm32)

    .code32
pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    lgdt HANDOFF + 64           /* from here on the guest's GDT */
    cmpl $2, HANDOFF
    je pvh

    /* 64-bit entry: CR4 (PAE), CR3, EFER.LME, then CR0.PG enters IA-32e
     * mode; the far jump to the 64-bit __BOOT_CS enters 64-bit mode. */
    movl HANDOFF + 48, %eax
    movl %eax, %cr4
    movl HANDOFF + 32, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    movl HANDOFF + 56, %eax
    andl $~0x400, %eax          /* LMA is the CPU's to set */
    xorl %edx, %edx
    wrmsr
    movl HANDOFF + 40, %eax
    movl %eax, %cr0
    ljmpl $0x10, $(ROM_BASE + lm64)

    .code64
lm64:
    movw $0x18, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq HANDOFF + 16, %rsi
    movq HANDOFF + 8, %rax
    jmp *%rax

    .code32
pvh:
    ljmpl $0x10, $(ROM_BASE + pvh32)
pvh32:
    movw $0x18, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl HANDOFF + 40, %eax
    movl %eax, %cr0
    movl HANDOFF + 24, %ebx
    movl HANDOFF + 8, %eax
    jmp *%eax

    .p2align 3
rom_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: flat data */
rom_gdtr:
    .word 23
    .long ROM_BASE + rom_gdt

    .code16
reset:
    movw $0xcf9, %dx
    movb $0x06, %al
    outb %al, %dx
    hlt
    jmp reset

    .org 0xfff0
power_on:                       /* CS.base 0xffff0000, IP 0xfff0 */
    jmp _start
    .org 0x10000

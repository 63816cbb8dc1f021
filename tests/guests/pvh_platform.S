/* pvh_platform.S: a tiny "Linux-kind" kernel, entered through its PVH
 * note like Debian's vmlinux, that exercises what the monitor gives a
 * Linux guest, in a second on any KVM (kvm_pvm included):
 *
 *   - 32-bit protected mode, paging off, ebx = hvm_start_info (magic);
 *   - an empty PCI configuration space (ports 0xcf8/0xcfc read all ones);
 *   - CMOS ports (writes ignored, reads 0);
 *   - what Linux measures its TSC with: the hypervisor bit and KVM's
 *     CPUID leaves with kvmclock (CLOCKSOURCE2), and the PIT's channel 2
 *     through port 0x61 (gate in, OUT2 back), as its early calibration
 *     drives it when there is no kvmclock;
 *   - the UART's THR-empty interrupt through the in-kernel IOAPIC pin 4
 *     and LAPIC (IER, IIR, KVM_IRQ_LINE from a vCPU thread);
 *   - with '+' as the 2nd character of the command line: the receive
 *     interrupt for one byte of console input (KVM_IRQ_LINE from the
 *     monitor's main loop);
 *   - then what the command line's first character says: 'p' ACPI power
 *     off (0x80 to 0x601, 0x34 to 0x600), 'r' reboot (0x02, then 0x06 to
 *     0xcf9), 'x' a port nobody owns, anything else: halt for ever.
 *
 * Each step prints one "pvh: ..." line on COM1 (polled, as earlycon
 * does); a failed check prints "pvh: FAIL <what>" and halts. */
#define COM1 0x3f8
#define IOAPIC 0xfec00000
#define LAPIC 0xfee00000
#define VEC 0x30
#define PVH_MAGIC 0x336ec578

    .section .note.Xen, "a"
    .balign 4
    .long 4, 4, 18 /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .long pvh_start

    .text
    .code32
    .globl pvh_start
pvh_start:
    mov $stack_top, %esp
    cmpl $PVH_MAGIC, (%ebx)
    jne fail_magic
    mov 24(%ebx), %ebp /* cmdline_paddr (low half) */
    lea msg_start, %esi
    call puts

    /* PCI: an address register that does not read back, no device */
    mov $0xcf8, %dx
    mov $0x80001000, %eax
    out %eax, %dx
    in %dx, %eax
    cmp $0xffffffff, %eax
    jne fail_pci
    mov $0xcfc, %dx
    in %dx, %eax
    cmp $0xffffffff, %eax
    jne fail_pci
    /* CMOS: the shutdown status byte, as smpboot writes it */
    mov $0x0f, %al
    out %al, $0x70
    mov $0x0a, %al
    out %al, $0x71
    in $0x71, %al
    test %al, %al
    jnz fail_pci
    lea msg_pci, %esi
    call puts

    /* Linux finds kvmclock through the hypervisor bit and KVM's leaves */
    mov $1, %eax
    cpuid
    bt $31, %ecx
    jnc fail_clock
    mov $0x40000000, %eax
    cpuid
    cmp $0x4b4d564b, %ebx /* "KVMK" */
    jne fail_clock
    cmp $0x564b4d56, %ecx /* "VMKV" */
    jne fail_clock
    cmp $0x4d, %edx /* "M\0\0\0" */
    jne fail_clock
    mov $0x40000001, %eax
    cpuid
    bt $3, %eax /* KVM_FEATURE_CLOCKSOURCE2 */
    jnc fail_clock
    /* PIT channel 2 gated through port 0x61 (speaker off), mode 0 with
     * a count of 0x800 (~1.7 ms): OUT2 (port 0x61 bit 5) must rise */
    in $0x61, %al
    and $0xfd, %al
    or $0x01, %al
    out %al, $0x61
    mov $0xb0, %al
    out %al, $0x43
    xor %al, %al
    out %al, $0x42
    mov $0x08, %al
    out %al, $0x42
    mov $50000000, %ecx
1:  in $0x61, %al
    test $0x20, %al
    jnz 2f
    dec %ecx
    jnz 1b
    jmp fail_clock
2:  lea msg_clock, %esi
    call puts

    /* IDT gate VEC -> isr; LAPIC on; legacy PICs masked; IOAPIC pin 4
     * -> VEC, edge, active high, to APIC 0 */
    mov $isr, %eax
    mov %eax, %ecx
    and $0xffff, %eax
    or $0x00100000, %eax /* selector 0x10: the firmware's 32-bit CS */
    and $0xffff0000, %ecx
    or $0x8e00, %ecx /* present, DPL 0, 32-bit interrupt gate */
    mov %eax, idt + 8 * VEC
    mov %ecx, idt + 8 * VEC + 4
    lidt idtr
    movl $0x1ff, LAPIC + 0xf0 /* spurious vector 0xff, APIC enabled */
    mov $0xff, %al
    out %al, $0x21
    out %al, $0xa1
    movl $0x19, IOAPIC
    movl $0, IOAPIC + 0x10
    movl $0x18, IOAPIC
    movl $VEC, IOAPIC + 0x10

    /* THR empty: enabling ETBEI with an empty THR interrupts at once */
    mov $COM1 + 1, %dx
    mov $0x02, %al
    out %al, %dx
    call wait_irq
    cmpb $0x02, irq_iir
    jne fail_thre
    lea msg_thre, %esi
    call puts

    /* Received data, when asked for */
    cmpb $'+', 1(%ebp)
    jne action
    lea msg_input, %esi
    call puts
    mov $COM1 + 1, %dx
    mov $0x01, %al
    out %al, %dx
    call wait_irq
    cmpb $0x04, irq_iir
    jne fail_rx
    mov rx_byte, %al
    mov %al, msg_got_byte
    lea msg_got, %esi
    call puts

action:
    lea msg_done, %esi
    call puts
    movb (%ebp), %al
    cmp $'p', %al
    je poweroff
    cmp $'r', %al
    je reboot
    cmp $'x', %al
    je badport
halt:
    cli
    hlt
    jmp halt
poweroff:
    mov $0x601, %dx
    mov $0x80, %al
    out %al, %dx
    mov $0x600, %dx
    mov $0x34, %al
    out %al, %dx
    jmp halt
reboot:
    mov $0xcf9, %dx
    mov $0x02, %al
    out %al, %dx
    mov $0x06, %al
    out %al, %dx
    jmp halt
badport:
    mov $0x1234, %dx
    out %al, %dx
    jmp halt

/* Sleeps until the next interrupt and returns once isr has run. The ISR
 * does not return with iret (which KVM's emulator lacks in protected
 * mode, so it would fail on kvm_pvm): it resumes here with interrupts
 * off, as the interrupt gate left them. */
wait_irq:
    pop %eax
    mov %eax, resume_ip
    mov %esp, resume_sp
    sti
1:  hlt
    jmp 1b

/* One interrupt per step: takes IIR (and the byte), turns IER off, EOI. */
isr:
    mov $COM1 + 2, %dx
    in %dx, %al
    and $0x0f, %al
    mov %al, irq_iir
    cmp $0x04, %al
    jne 1f
    mov $COM1, %dx
    in %dx, %al
    mov %al, rx_byte
1:  mov $COM1 + 1, %dx
    xor %al, %al
    out %al, %dx
    movl $0, LAPIC + 0xb0
    mov resume_sp, %esp
    jmp *resume_ip

/* Prints the NUL-terminated string at esi, polling LSR.THRE. */
puts:
    mov $COM1 + 5, %dx
1:  in %dx, %al
    test $0x20, %al
    jz 1b
    lodsb
    test %al, %al
    jz 2f
    mov $COM1, %dx
    out %al, %dx
    jmp puts
2:  ret

fail_magic:
    lea msg_fail_magic, %esi
    jmp fail
fail_pci:
    lea msg_fail_pci, %esi
    jmp fail
fail_clock:
    lea msg_fail_clock, %esi
    jmp fail
fail_thre:
    lea msg_fail_thre, %esi
    jmp fail
fail_rx:
    lea msg_fail_rx, %esi
fail:
    call puts
    jmp halt

    .data
idtr:
    .word 8 * (VEC + 1) - 1
    .long idt
msg_start: .asciz "pvh: start info ok\n"
msg_pci: .asciz "pvh: no PCI bus, CMOS ok\n"
msg_clock: .asciz "pvh: kvmclock in CPUID, PIT channel 2 through port 0x61 ok\n"
msg_thre: .asciz "pvh: uart THR-empty interrupt ok\n"
msg_input: .asciz "pvh: waiting for one byte of input\n"
msg_got: .ascii "pvh: uart receive interrupt got '"
msg_got_byte: .asciz "?'\n"
msg_done: .asciz "pvh: done\n"
msg_fail_magic: .asciz "pvh: FAIL start info magic\n"
msg_fail_pci: .asciz "pvh: FAIL PCI or CMOS\n"
msg_fail_clock: .asciz "pvh: FAIL kvmclock CPUID or PIT port 0x61\n"
msg_fail_thre: .asciz "pvh: FAIL THR-empty interrupt\n"
msg_fail_rx: .asciz "pvh: FAIL receive interrupt\n"

    .bss
    .balign 8
idt: .skip 8 * (VEC + 1)
resume_ip: .long 0
resume_sp: .long 0
irq_iir: .byte 0
rx_byte: .byte 0
    .balign 16
    .skip 4096
stack_top:
    .section .note.GNU-stack,"",@progbits

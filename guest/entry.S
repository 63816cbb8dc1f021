/* entry.S: the demo kernel's ring-0 entry points: boot, exception stubs, the
 * system call gate and the first switch to ring 3. Kept in assembly only
 * where C cannot express it; everything else is in kernel.c. */
#include "guest/guest.h"

	.code64
	.text

/* Every vCPU starts here at once: rdi = vCPU index, rsi = boot info GPA.
 * Move off the firmware's boot stack onto this vCPU's own kernel stack (the
 * one TSS.rsp0 will name) before running any C. */
	.globl guest_entry
	.type guest_entry, @function
guest_entry:
	cmp $GUEST_MAX_VCPUS, %rdi
	jae guest_halt			/* no stack of ours to report on */
	lea 1(%rdi), %rax
	shl $GUEST_KSTACK_SHIFT, %rax
	lea guest_kstacks(%rax), %rsp
	call guest_main			/* does not return */
	.size guest_entry, . - guest_entry

/* Park this vCPU for good; the monitor stops the VM after a FAIL ucall. */
	.globl guest_halt
	.type guest_halt, @function
guest_halt:
	cli
	hlt
	jmp guest_halt
	.size guest_halt, . - guest_halt

/* void guest_load_gdt(const struct guest_dtr *gdtr): the new GDT has the
 * same selectors as the firmware's, but the hidden parts of CS and SS must
 * be reloaded from it; a far return is the way to reload CS in long mode. */
	.globl guest_load_gdt
	.type guest_load_gdt, @function
guest_load_gdt:
	lgdt (%rdi)
	pushq $GUEST_SEL_KCODE
	lea 1f(%rip), %rax
	push %rax
	lretq
1:	mov $GUEST_SEL_KDATA, %eax
	mov %eax, %ss
	mov %eax, %ds
	mov %eax, %es
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	ret
	.size guest_load_gdt, . - guest_load_gdt

/* void guest_enter_user(cpu, ncpus, tsc_khz, flags, rip, rsp): the first
 * four arguments already sit in the registers workload_entry() reads them
 * from; clear the rest so no kernel value reaches ring 3. */
	.globl guest_enter_user
	.type guest_enter_user, @function
guest_enter_user:
	pushq $GUEST_SEL_UDATA
	push %r9
	pushq $GUEST_USER_RFLAGS
	pushq $GUEST_SEL_UCODE
	push %r8
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	iretq
	.size guest_enter_user, . - guest_enter_user

/* System call gate (vector 3, DPL 3). Saves exactly the registers C may
 * clobber, so ring 3 gets every register back but rax. 9 pushes keep the
 * stack 16-byte aligned at the call (the CPU aligned it before the 5-word
 * frame). DF may be set by ring 3 and the C ABI wants it clear. */
	.globl guest_syscall_entry
	.type guest_syscall_entry, @function
guest_syscall_entry:
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	cld
	mov %rsp, %rdi			/* struct guest_syscall_frame * */
	call guest_syscall
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	iretq
	.size guest_syscall_entry, . - guest_syscall_entry

/* Exception stubs for vectors 0-31: give every frame the same shape
 * (vector, error code, CPU frame) and report it. Fatal by design. */
.macro GUEST_EXC_STUB vec
	.type guest_exc_\vec, @function
guest_exc_\vec:
	.if ((1 << \vec) & GUEST_EXC_ERRCODE_MASK) == 0
	pushq $0
	.endif
	pushq $\vec
	jmp guest_exc_common
	.size guest_exc_\vec, . - guest_exc_\vec
.endm

	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	GUEST_EXC_STUB \vec
	.endr

	.type guest_exc_common, @function
guest_exc_common:
	cld
	mov %rsp, %rdi			/* struct guest_exc_frame * */
	and $-16, %rsp
	call guest_exception		/* does not return */
	jmp guest_halt
	.size guest_exc_common, . - guest_exc_common

	.section .rodata
	.balign 8
	.globl guest_exc_stubs
guest_exc_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad guest_exc_\vec
	.endr
	.size guest_exc_stubs, . - guest_exc_stubs

	.section .note.GNU-stack, "", @progbits

/* guest.h: the contract between the demo guest's ring-0 kernel and its ring-3
 * code: system call numbers and convention, error codes, stack sizes and the
 * user entry point. Included by C and by entry.S (plain constants only
 * outside the __ASSEMBLER__ guard).
 *
 * System calls: the user library executes `int3` with rax = number and up
 * to three arguments in rdi, rsi, rdx; the result comes back in rax
 * (negative = -GUEST_E*); every other register is preserved. Vector 3 is the
 * only software interrupt with a DPL 3 gate. Why not `syscall` or `int 0x80`:
 * on kvm_pvm hosts `syscall` from ring 3 jumps to LSTAR without entering
 * ring 0 and `int n` (n != 3) raises #UD, while `int3` enters ring 0
 * through the IDT on kvm_pvm, VT-x and AMD-V alike.
 */
#ifndef GUEST_H
#define GUEST_H

#define GUEST_MAX_VCPUS 8 /* == HV_MAX_VCPUS, checked in kernel.c */

/* Ring-0 stack per vCPU; entry.S indexes the stacks with the shift. */
#define GUEST_KSTACK_SHIFT 14
#define GUEST_KSTACK_SIZE (1 << GUEST_KSTACK_SHIFT)
#define GUEST_USTACK_SIZE 0x4000

/* The kernel's selectors: the firmware's layout (hv_abi.h) plus one 16-byte
 * TSS descriptor per vCPU. */
#define GUEST_SEL_KCODE 0x10
#define GUEST_SEL_KDATA 0x18
#define GUEST_SEL_UDATA 0x2b /* 0x28 | RPL 3 */
#define GUEST_SEL_UCODE 0x33 /* 0x30 | RPL 3 */
#define GUEST_SEL_TSS0 0x38
#define GUEST_GDT_ENTRIES (7 + 2 * GUEST_MAX_VCPUS)

/* Ring 3 runs with IF clear: the guest takes no interrupts, so a stray one
 * from a device model the monitor may add later cannot land in an
 * exception vector. */
#define GUEST_USER_RFLAGS 0x2

/* Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30. */
#define GUEST_EXC_ERRCODE_MASK 0x60227d00

#define GUEST_SYSCALL_VECTOR 3

/* System call numbers. */
#define GUEST_SYS_WRITE 0     /* (buf, len) -> bytes written */
#define GUEST_SYS_READ 1      /* (buf, len) -> bytes read, 0 if none */
#define GUEST_SYS_HEARTBEAT 2 /* (count) -> 0 */
#define GUEST_SYS_KLOG_READ 3 /* (off, len, buf) -> bytes copied */
#define GUEST_SYS_SHUTDOWN 4  /* (code) -> does not return */
#define GUEST_SYS_SELFWRITE 5 /* (kind) -> GUEST_SELFWRITE_* */
#define GUEST_SYS_PATCHES 6   /* (struct hv_hc_patches *) -> 0 */
#define GUEST_SYS_COUNT 7

/* Error codes (returned negated), numbered as in Linux. */
#define GUEST_EPERM 1
#define GUEST_EFAULT 14
#define GUEST_EINVAL 22
#define GUEST_ENOSYS 38

/* Ring-0 self-write attempts (GUEST_SYS_SELFWRITE's argument). */
#define GUEST_SELFWRITE_STORE 0     /* plain 8-byte store */
#define GUEST_SELFWRITE_REP_MOVSB 1 /* rep movsb of 16 bytes */
#define GUEST_SELFWRITE_ALIAS 2     /* store through HV_ALIAS_BASE */
#define GUEST_SELFWRITE_KINDS 3
/* Results. */
#define GUEST_SELFWRITE_BLOCKED 0
#define GUEST_SELFWRITE_CHANGED 1

/* Flags handed to the workloads (bit 0 is HV_BOOT_F_SELFWRITE's value). */
#define GUEST_F_SELFWRITE 0x1

/* Largest WRITE the kernel performs in one call; the library loops. */
#define GUEST_WRITE_MAX 1024

/* The kernel log klog reads (kernel.c, struct guest_klog below); here so
 * that hot patches see the layout the running kernel has. */
#define GUEST_KLOG_READ_MAX 64

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Ring-3 entry on every vCPU (workload.c), entered by iretq with a fresh
 * user stack. tsc_khz is never 0; flags holds GUEST_F_*. */
void workload_entry(uint64_t cpu, uint64_t ncpus, uint64_t tsc_khz,
                    uint64_t flags) __attribute__((noreturn));

/* The kernel's secret and its log in one struct, so the log is guaranteed
 * to follow the secret directly: what the sys_klog_read bug leaks. */
struct guest_klog {
    char secret[32];
    char log[256];
};

/* One user stack per vCPU, in user bss (workload.c). */
extern char workload_stacks[GUEST_MAX_VCPUS][GUEST_USTACK_SIZE];
#endif

#endif /* GUEST_H */

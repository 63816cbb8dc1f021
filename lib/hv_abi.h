/* hv_abi.h: the ABI between the hvpatch monitor and the demo guest.
 *
 * Self-contained (no libc): included by the host monitor and by the
 * freestanding guest alike. Everything here is a contract; change it only
 * together with HV_ABI_VERSION.
 *
 * Guest physical memory (GPA) seen by the demo guest:
 *
 *   RAM memslot, [0, mem_size), read-write:
 *     0x00001000  struct hv_boot_info       (monitor writes, guest reads)
 *     0x00002000  struct hv_shared          (guest writes counters, user RW)
 *     0x00003000  boot GDT built by firmware (guest may replace it)
 *     0x00010000  page tables built by firmware (256 KiB)
 *     0x00080000  boot stacks, HV_BOOT_STACK_SIZE per vCPU
 *     0x00100000  guest kernel data and bss (supervisor)      [3 MiB]
 *     0x00400000  guest user data, bss and stacks (user)      [4 MiB]
 *     0x00800000  free RAM up to mem_size (supervisor)
 *
 *   Protected memslot (KVM_MEM_READONLY), [HV_PROT_BASE, +HV_PROT_SIZE):
 *     +0x000000   kernel text and rodata (supervisor)          [1 MiB]
 *     +0x100000   user text: shared library, then workloads    [1 MiB]
 *     +0x200000   kernel patch area (supervisor)               [1 MiB]
 *     +0x300000   user patch area (user)                       [1 MiB]
 *
 * Virtual addresses: identity (VA == GPA) for all of the above. The guest
 * page tables map every page writable: the guest's own paging is not what
 * protects its code; the second-level (EPT/NPT) read-only memslot is. In
 * addition HV_ALIAS_BASE maps the whole protected region a second time,
 * user-accessible and writable, as a compromised kernel would.
 *
 * Entry: every vCPU starts at the ELF entry point in 64-bit long mode,
 * CPL 0, interrupts off, with
 *   rdi = vCPU index, rsi = GPA of struct hv_boot_info,
 *   rsp = HV_BOOT_STACK_TOP(index), cs = HV_FW_SEL_KCODE, ds/ss = KDATA,
 *   EFER.SCE set (syscall enabled), CR4.OSFXSR set, no FPU/XSAVE use.
 *
 * Hypercalls: `out dx, eax` with dx = HV_PORT_HC_BASE + number, eax = the
 * argument: the GPA (< 4 GiB) of the argument struct, or a plain value
 * where noted. Hypercalls are issued from CPL 0 only.
 */
#ifndef HV_ABI_H
#define HV_ABI_H

#define HV_ABI_VERSION 1u

#define HV_MAX_VCPUS 8u
#define HV_MAX_MEM_MIB 1024u /* RAM must end below HV_PROT_BASE */

/* Guest physical layout. */
#define HV_BOOT_INFO_GPA 0x00001000ull
#define HV_SHARED_GPA 0x00002000ull
#define HV_FW_GDT_GPA 0x00003000ull
#define HV_FW_PT_GPA 0x00010000ull
#define HV_FW_PT_SIZE 0x00040000ull
#define HV_BOOT_STACK_GPA 0x00080000ull
#define HV_BOOT_STACK_SIZE 0x4000ull
#define HV_BOOT_STACK_TOP(i) \
    (HV_BOOT_STACK_GPA + ((unsigned long long)(i) + 1) * HV_BOOT_STACK_SIZE)
#define HV_KDATA_GPA 0x00100000ull
#define HV_KDATA_SIZE 0x00300000ull
#define HV_UDATA_GPA 0x00400000ull
#define HV_UDATA_SIZE 0x00400000ull
#define HV_RAM_MIN 0x00800000ull /* RAM below this is all laid out above */

#define HV_PROT_BASE 0x40000000ull
#define HV_PROT_SIZE 0x00400000ull
#define HV_PROT_KTEXT (HV_PROT_BASE + 0x000000ull)
#define HV_PROT_UTEXT (HV_PROT_BASE + 0x100000ull)
#define HV_PROT_KPATCH (HV_PROT_BASE + 0x200000ull)
#define HV_PROT_UPATCH (HV_PROT_BASE + 0x300000ull)
#define HV_PROT_PART_SIZE 0x100000ull

#define HV_ALIAS_BASE 0x80000000ull /* second mapping of protected region */

/* A Linux guest's protected memfd (docs/LINUX.md, "Text lock"):
 *   [0, HV_LINUX_PATCH_SIZE)   patch area: GPA HV_PROT_BASE (memslot 1),
 *                              mapped by the verifier at the lock as one
 *                              2 MiB page at HV_LINUX_PATCH_VA in the
 *                              kernel's own page tables: kernel, read and
 *                              execute, within +-2 GiB of the kernel text
 *   [HV_LINUX_TEXT_OFF, +text) the kernel text from its lock on, at the
 *                              text's own GPA (memslot 2, read-only)
 * HV_LINUX_PATCH_VA is the last 2 MiB of the kernel image's 1 GiB window
 * (level2_kernel_pgt), which Linux leaves unmapped past its image. */
#define HV_LINUX_PATCH_SIZE 0x00200000ull
#define HV_LINUX_PATCH_VA 0xffffffffbfe00000ull
#define HV_LINUX_TEXT_OFF HV_LINUX_PATCH_SIZE
#define HV_LINUX_TEXT_MAX 0x01e00000ull /* 30 MiB of kernel text */
#define HV_LINUX_PROT_SIZE (HV_LINUX_TEXT_OFF + HV_LINUX_TEXT_MAX)
#define HV_PROT_MAX_SIZE HV_LINUX_PROT_SIZE
/* A Linux guest asks for its text lock by writing a byte to this port
 * (e.g. from its initramfs, through /dev/port, once boot is done). */
#define HV_LINUX_LOCK_PORT 0x00e0u

/* Boot GDT selectors, laid out for syscall/sysret:
 * STAR[47:32] = KCODE, STAR[63:48] = UCODE32 (sysret adds 8 for SS, 16 for
 * the 64-bit CS). */
#define HV_FW_SEL_KCODE 0x10
#define HV_FW_SEL_KDATA 0x18
#define HV_FW_SEL_UCODE32 0x20
#define HV_FW_SEL_UDATA 0x28
#define HV_FW_SEL_UCODE 0x30
#define HV_FW_GDT_ENTRIES 7

/* Ports. */
#define HV_PORT_COM1 0x3f8
#define HV_PORT_HC_BASE 0x500
#define HV_HC_HEARTBEAT 0 /* arg: GPA of struct hv_hc_heartbeat */
#define HV_HC_UCALL 1     /* arg: GPA of struct hv_hc_ucall */
#define HV_HC_SHUTDOWN 2  /* arg: exit code (value, not a GPA) */
#define HV_HC_PATCHES 3   /* arg: GPA of struct hv_hc_patches to fill */
#define HV_HC_COUNT 4

#define HV_BOOT_MAGIC 0x31544f4f42564820ull /* "HVBOOT1" little-endian */
#define HV_CMDLINE_MAX 256

/* Boot flags (hv_boot_info.flags), also settable from the command line. */
#define HV_BOOT_F_SELFWRITE (1ull << 0) /* try to overwrite own code */

struct hv_boot_info {
    unsigned long long magic;
    unsigned int abi_version;
    unsigned int ncpus;
    unsigned long long mem_size;
    unsigned long long tsc_khz; /* 0 if unknown */
    unsigned long long prot_base;
    unsigned long long prot_size;
    unsigned long long flags;
    char cmdline[HV_CMDLINE_MAX]; /* NUL-terminated */
};

/* Written by the guest, read by the monitor for `status`. */
struct hv_shared {
    volatile unsigned long long heartbeat[HV_MAX_VCPUS];
};

struct hv_hc_heartbeat {
    unsigned int cpu;
    unsigned int pad;
    unsigned long long count;
};

#define HV_UCALL_PRINT 0 /* informational message */
#define HV_UCALL_FAIL 1  /* guest assertion failed or fatal exception */
#define HV_UCALL_DONE 2  /* a guest test phase finished; args[0] = phase */
#define HV_UCALL_FILE_MAX 48
#define HV_UCALL_MSG_MAX 128

struct hv_hc_ucall {
    unsigned int kind;
    unsigned int line;
    unsigned long long args[4];
    char file[HV_UCALL_FILE_MAX]; /* NUL-terminated */
    char msg[HV_UCALL_MSG_MAX];   /* NUL-terminated */
};

/* The patches applied now, as HV_HC_PATCHES reports them: the monitor
 * fills the guest's buffer. generation changes with every apply and
 * revert; count is every live patch, of which the latest
 * HV_PATCHES_MAX are listed, oldest first. */
#define HV_PATCHES_MAX 8
#define HV_PATCH_ID_MAX 40

struct hv_hc_patch {
    char id[HV_PATCH_ID_MAX]; /* NUL-terminated */
    unsigned long long seq;
    unsigned long long applied_ms; /* UTC, ms since the epoch */
};

struct hv_hc_patches {
    unsigned int generation;
    unsigned int count;
    struct hv_hc_patch patch[HV_PATCHES_MAX];
};

#endif /* HV_ABI_H */

/* fw_linux.h: boot firmware for a Linux guest: from a parsed kernel, an
 * initrd and a command line to guest memory and the boot vCPU's state.
 *
 * It writes what a BIOS and a boot loader would leave behind for the Linux
 * x86 boot protocol (Documentation/arch/x86/boot.rst) or Xen's PVH boot ABI
 * (docs/misc/pvh.pandoc): boot_params ("zero page") or hvm_start_info, the
 * e820 map, ACPI tables (RSDP, XSDT, FADT, MADT, DSDT), a GDT and, for the
 * 64-bit entry, identity page tables. Like fw.h it knows nothing about KVM:
 * every function here is pure, over a host buffer that maps guest RAM at
 * GPA 0. The kernel description comes from firmware/hv_linux.h, which parses the
 * (untrusted) kernel file; this code re-checks what it relies on.
 *
 * Guest physical layout (docs/LINUX.md has the whole story):
 *
 *   0x00000000  real-mode IVT and BIOS data area, left zero   e820 RAM
 *   0x00007000  boot_params (bzImage) | hvm_start_info,       e820 RAM
 *               modlist, memmap (PVH)
 *   0x00008000  command line, NUL-terminated                  e820 RAM
 *   0x00009000  boot stack (top FW_LINUX_STACK_TOP)           e820 RAM
 *   0x0009fc00  EBDA placeholder (empty)                      e820 reserved
 *   0x000e0000  firmware area: ACPI tables (RSDP first, so    e820 reserved
 *               the BIOS-area scan finds it too), GDT, page
 *               tables, and at 0xffff0 a reset vector that
 *               resets through port 0xcf9; measured as the
 *               firmware stub (PCR 0)
 *   0x00100000  RAM; the kernel at its own physical address   e820 RAM
 *               (bzImage: pref_address, PVH: p_paddr), the
 *               initrd as high as the kernel allows
 *   mem_size    end of RAM (caller's reserved ranges are carved out)
 *
 * Linux copies boot_params and the command line early, and reserves the
 * first 64 KiB for ever, so nothing of the low area outlives early boot.
 * The firmware area stays reserved: ACPI tables are read all the time.
 *
 * ACPI model: hardware-reduced (FADT flag HW_REDUCED_ACPI), as Firecracker
 * and Cloud Hypervisor do. Linux then wants no PM timer, SCI, PM1 or GPE
 * blocks, no legacy PIC and no PIT interrupt; the LAPIC timer and the TSC
 * (kvmclock) keep time. Legacy ISA IRQs are not pre-mapped in that mode,
 * so the DSDT declares COM1 (PNP0501, I/O 0x3f8, IRQ 4) for the 8250
 * driver to get its interrupt; \_S5 plus the FADT sleep registers give a
 * clean power-off, the FADT reset register a clean reboot.
 */
#ifndef FW_LINUX_H
#define FW_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/fw.h"

/* Guest physical layout. */
#define FW_LINUX_BOOT_GPA 0x7000ull /* boot_params or PVH start info */
#define FW_LINUX_BOOT_SIZE 0x1000ull
#define FW_LINUX_CMDLINE_GPA 0x8000ull
#define FW_LINUX_CMDLINE_AREA 0x1000ull
#define FW_LINUX_CMDLINE_MAX 4095u /* longest command line, without NUL */
#define FW_LINUX_STACK_TOP 0xa000ull
#define FW_LINUX_EBDA_GPA 0x9fc00ull
#define FW_LINUX_LOW_END 0xa0000ull  /* end of low RAM (640 KiB) */
#define FW_LINUX_FW_GPA 0xe0000ull   /* firmware area, e820 reserved */
#define FW_LINUX_ACPI_GPA 0xe0000ull /* RSDP, then the other tables */
#define FW_LINUX_ACPI_SIZE 0x8000ull
#define FW_LINUX_GDT_GPA 0xe8000ull
#define FW_LINUX_PT_GPA 0xe9000ull /* PML4, PDPT, 4 PDs: 4 GiB */
#define FW_LINUX_PT_PAGES 6u
#define FW_LINUX_RESET_GPA 0xffff0ull /* BIOS reset vector, F000:FFF0 */
#define FW_LINUX_FW_END 0x100000ull   /* end of the firmware area */
#define FW_LINUX_HIGH_GPA 0x100000ull /* kernel and initrd live above */
#define FW_LINUX_FW_SIZE (FW_LINUX_FW_END - FW_LINUX_FW_GPA)

#define FW_LINUX_RAM_MIN (16ull << 20)
#define FW_LINUX_RAM_MAX (3ull << 30) /* below the 32-bit MMIO hole */
#define FW_LINUX_MAX_CPUS 64u
#define FW_LINUX_MAX_SEGS 8u
#define FW_LINUX_MAX_RESERVED 4u
#define FW_LINUX_E820_MAX 32u
#define FW_LINUX_SETUP_HDR_OFF 0x1f1u /* setup header, image and zero page */
#define FW_LINUX_SETUP_HDR_END 0x290u /* header ends before edd_mbr_sig */

/* Boot GDT selectors: __BOOT_CS and __BOOT_DS of the boot protocol. */
#define FW_LINUX_SEL_CS 0x10
#define FW_LINUX_SEL_DS 0x18
#define FW_LINUX_GDT_ENTRIES 4

/* Devices the ACPI tables describe; the monitor must implement them. */
#define FW_LINUX_IOAPIC_GPA 0xfec00000ull
#define FW_LINUX_LAPIC_GPA 0xfee00000ull
#define FW_LINUX_COM1_PORT 0x3f8
#define FW_LINUX_COM1_IRQ 4 /* IOAPIC pin (GSI) 4, edge, active high */
/* FADT SLEEP_CONTROL_REG: a byte write of (SLP_TYP << 2) | SLP_EN (0x20);
 * SLP_TYP 5 (\_S5) means power off, i.e. the value 0x34. */
#define FW_LINUX_PORT_SLEEP_CTL 0x600
/* FADT SLEEP_STATUS_REG: Linux writes 0x80 (clear WAK_STS) before
 * sleeping; reads must return 0. */
#define FW_LINUX_PORT_SLEEP_STS 0x601
/* FADT RESET_REG: the PC reset control register; Linux writes
 * FW_LINUX_RESET_VALUE to reboot (and 0x02, 0x06 for reboot=pci). Its
 * default reboot on a hardware-reduced machine without EFI is the BIOS
 * path instead (machine_real_restart: CMOS writes to ports 0x70/0x71, then
 * real mode at F000:FFF0), where the firmware's reset vector writes the
 * same value to the same port: every reboot ends as this one write. */
#define FW_LINUX_PORT_RESET 0xcf9
#define FW_LINUX_RESET_VALUE 0x06
#define FW_LINUX_SLP_TYP_S5 5
/* The pvpanic device (QEMU's "QEMU0001", docs/specs/pvpanic.rst): the
 * DSDT declares its byte port; Linux's pvpanic-mmio driver writes
 * FW_LINUX_PVPANIC_PANICKED to it when the kernel panics. Reads return
 * the events the device supports. */
#define FW_LINUX_PORT_PVPANIC 0x505
#define FW_LINUX_PVPANIC_PANICKED 0x01
#define FW_LINUX_PVPANIC_CRASH_LOADED 0x02

/* A command line that keeps exits down on any host; add "noxsave" on
 * kvm_pvm and "tsc_early_khz=<kHz>" when kvmclock is hidden. */
#define FW_LINUX_CMDLINE_DEFAULT "console=ttyS0 quiet pci=off 8250.nr_uarts=1"

/* e820 / PVH memmap types. */
enum {
    FW_E820_RAM = 1,
    FW_E820_RESERVED = 2,
    FW_E820_ACPI = 3,
};

/* Stable error codes; fw_linux_strerror() names each. */
enum fw_linux_err {
    FW_LINUX_OK = 0,
    FW_LINUX_ERR_MEM_SIZE = -1,   /* mem_size outside the range, unaligned */
    FW_LINUX_ERR_NCPUS = -2,      /* 0 or more than FW_LINUX_MAX_CPUS */
    FW_LINUX_ERR_RESERVED = -3,   /* a reserved range empty, wrapping, too
                                     many, or below FW_LINUX_HIGH_GPA */
    FW_LINUX_ERR_CMDLINE = -4,    /* longer than the kernel accepts */
    FW_LINUX_ERR_KERNEL = -5,     /* kernel description inconsistent */
    FW_LINUX_ERR_KERNEL_RAM = -6, /* a kernel segment not in one RAM range
                                     above 1 MiB */
    FW_LINUX_ERR_INITRD = -7,     /* no room for the initrd */
    FW_LINUX_ERR_E820 = -8,       /* memory map needs too many entries */
    FW_LINUX_ERR_ACPI = -9,       /* ACPI tables do not fit their area */
};

/* How the kernel is entered. */
enum fw_linux_entry {
    /* 64-bit boot protocol (bzImage, protocol >= 2.12, XLF_KERNEL_64):
     * long mode, paging on with an identity map, CS = __BOOT_CS,
     * DS/ES/SS = __BOOT_DS, rsi = boot_params, rip = load address + 0x200.
     * Decompresses itself; KASLR unless "nokaslr". */
    FW_LINUX_ENTRY_BZIMAGE64 = 1,
    /* PVH (uncompressed vmlinux with XEN_ELFNOTE_PHYS32_ENTRY): 32-bit
     * protected mode, paging off, flat CS/DS, ebx = hvm_start_info. No
     * real mode, no decompression, no KASLR: the text sits at its ELF
     * physical address, where the monitor can lock it. */
    FW_LINUX_ENTRY_PVH = 2,
};

/* One piece of the kernel file and where it goes. */
struct fw_linux_seg {
    uint64_t offset; /* in the kernel file */
    uint64_t filesz; /* bytes copied from the file */
    uint64_t gpa;    /* where they go */
    uint64_t memsz;  /* bytes claimed at gpa, zero-filled past filesz */
    uint64_t va;     /* PVH: the kernel's virtual address (p_vaddr) */
    int exec;        /* executable (PVH: PF_X) */
    int writable;    /* PVH: PF_W */
};

/* What to load and how to enter it (filled by hv_linux_parse*()). */
struct fw_linux_kernel {
    enum fw_linux_entry kind;
    uint64_t entry; /* GPA of the first instruction */
    unsigned nsegs;
    struct fw_linux_seg segs[FW_LINUX_MAX_SEGS];
    uint32_t cmdline_max;    /* longest command line, without the NUL */
    uint64_t initrd_end_max; /* the initrd must end at or below this GPA */
    /* bzImage: the setup header as found at 0x1f1 in the image, copied
     * into boot_params at 0x1f1 (boot protocol: "load the setup header
     * into struct boot_params"). */
    uint8_t setup_header[FW_LINUX_SETUP_HDR_END - FW_LINUX_SETUP_HDR_OFF];
    size_t setup_header_len;
    /* PVH: the executable segment holding the entry (text and rodata);
     * 0 for bzImage, whose text is only known after it has decompressed
     * itself. lock_size: what the text lock covers from text_gpa, the
     * ".text" section page-rounded (rodata holds __ro_after_init data,
     * written late in boot), or the whole segment if the file has no
     * section table. data_*: the first writable segment mapped above the
     * text, which the verifier checks the page tables it edits map. */
    uint64_t text_gpa, text_size, text_va, lock_size;
    uint64_t data_gpa, data_va;
};

struct fw_linux_range {
    uint64_t gpa, size;
};

struct fw_linux_config {
    uint64_t mem_size;    /* RAM is [0, mem_size), 4 KiB aligned */
    unsigned ncpus;       /* one MADT entry each, APIC IDs 0 .. ncpus-1 */
    const char *cmdline;  /* NULL: empty */
    uint64_t initrd_size; /* 0: no initrd */
    /* Ranges the monitor uses (MMIO, other memslots): e820 reserved and
     * never used for the kernel or the initrd. At or above 1 MiB. */
    unsigned nreserved;
    struct fw_linux_range reserved[FW_LINUX_MAX_RESERVED];
};

struct fw_linux_e820 {
    uint64_t addr, size;
    uint32_t type; /* FW_E820_* */
};

/* Where everything went (GPAs). */
struct fw_linux_layout {
    enum fw_linux_entry kind;
    uint64_t entry;
    uint64_t boot_gpa, boot_size;      /* boot_params, or start info block */
    uint64_t cmdline_gpa, cmdline_len; /* len without the NUL */
    uint64_t kernel_start, kernel_end; /* span of all segments (memsz) */
    uint64_t initrd_gpa, initrd_size;  /* 0, 0 without an initrd */
    uint64_t rsdp_gpa;
    uint64_t fw_gpa, fw_size;     /* firmware area: ACPI, GDT, page tables */
    uint64_t text_gpa, text_size; /* as in fw_linux_kernel */
    unsigned ne820;
    struct fw_linux_e820 e820[FW_LINUX_E820_MAX];
};

/* The boot vCPU's initial state. fw_cpu_state has no rbx, which PVH
 * needs; everything else is in fw (ds also goes to es, fs, gs, ss). */
struct fw_linux_cpu {
    struct fw_cpu_state fw;
    uint64_t rbx;
};

/* Addresses of the tables fw_acpi_build() wrote. */
struct fw_acpi_info {
    uint64_t rsdp, xsdt, fadt, madt, dsdt;
    size_t size; /* bytes used from the start of the area */
};

/* The e820 map for cfg: low RAM, the EBDA and BIOS-area holes, RAM from
 * 1 MiB to mem_size, with cfg->reserved carved out and marked reserved.
 * Sorted, non-overlapping, adjacent entries of one type merged. Checks
 * all of cfg but the command line. Returns FW_LINUX_OK or
 * FW_LINUX_ERR_MEM_SIZE, _NCPUS, _RESERVED or _E820 (more than max). */
int fw_linux_e820(const struct fw_linux_config *cfg, struct fw_linux_e820 *out,
                  unsigned max, unsigned *n);

/* Decides where everything goes without writing anything: checks cfg and
 * k (segments inside one e820 RAM range above 1 MiB, command line length,
 * initrd room) and fills *lay. Returns FW_LINUX_OK or a fw_linux_err. */
int fw_linux_plan(const struct fw_linux_config *cfg,
                  const struct fw_linux_kernel *k, struct fw_linux_layout *lay);

/* fw_linux_plan(), then writes guest memory: ram maps [0, cfg->mem_size).
 * Zeroes the first MiB, writes the firmware area, command line and boot
 * info, copies each kernel segment from kimg[0..klen) (zero-filling memsz
 * past filesz) and the initrd (cfg->initrd_size bytes). On error nothing
 * has been written. */
int fw_linux_setup(uint8_t *ram, const struct fw_linux_config *cfg,
                   const struct fw_linux_kernel *k, const uint8_t *kimg,
                   size_t klen, const uint8_t *initrd,
                   struct fw_linux_layout *lay);

/* Writes the firmware area for a kernel entered as `kind` on ncpus vCPUs
 * into fw[0..FW_LINUX_FW_SIZE), which the guest sees at FW_LINUX_FW_GPA:
 * ACPI tables, GDT, page tables (bzImage), reset vector, zeros elsewhere.
 * It is exactly what fw_linux_setup() writes there and depends on nothing
 * else, so a verifier can rebuild and measure it (PCR 0) without the
 * guest's memory. Returns FW_LINUX_OK, or FW_LINUX_ERR_KERNEL (unknown
 * kind), FW_LINUX_ERR_NCPUS or FW_LINUX_ERR_ACPI, having written nothing. */
int fw_linux_fw_area(uint8_t *fw, enum fw_linux_entry kind, unsigned ncpus);

/* The boot vCPU's state for lay (see enum fw_linux_entry). Application
 * processors get no state: Linux starts them with INIT/SIPI through the
 * in-kernel LAPIC, from KVM's reset state. */
void fw_linux_cpu_state(const struct fw_linux_layout *lay,
                        struct fw_linux_cpu *st);

/* Writes the ACPI tables for ncpus vCPUs into dst[0..cap), which the guest
 * sees at gpa: RSDP (revision 2) at dst[0], then XSDT, FADT (revision 6,
 * hardware-reduced), MADT (a LAPIC per vCPU, the IOAPIC, IRQ0 -> GSI 2,
 * LAPIC NMI on LINT1) and DSDT (COM1, \_S5). Returns FW_LINUX_OK, or
 * FW_LINUX_ERR_NCPUS or FW_LINUX_ERR_ACPI (cap too small). */
int fw_acpi_build(uint8_t *dst, size_t cap, uint64_t gpa, unsigned ncpus,
                  struct fw_acpi_info *info);

/* The byte sum of len bytes (0 for a correctly checksummed ACPI table). */
uint8_t fw_acpi_sum(const uint8_t *p, size_t len);

/* A short message for a fw_linux_err. */
const char *fw_linux_strerror(int err);

#endif /* FW_LINUX_H */

/* fw.h: the guest boot path: long-mode entry without a BIOS.
 *
 * The firmware stub writes the boot-time structures into guest RAM (page
 * tables, a GDT, the boot info page) and describes the CPU state every vCPU
 * starts in. It knows nothing about KVM: the monitor turns fw_cpu_state
 * into registers. */
#ifndef FW_H
#define FW_H

#include <stddef.h>
#include <stdint.h>

/* A segment as the CPU caches it in long mode. */
struct fw_segment {
    uint16_t selector;
    uint8_t type; /* descriptor type field */
    uint8_t s;    /* 1: code/data, 0: system */
    uint8_t dpl;
    uint8_t l; /* 64-bit code */
    uint8_t db;
};

struct fw_cpu_state {
    uint64_t rip, rsp, rdi, rsi, rflags;
    uint64_t cr0, cr3, cr4, efer;
    uint64_t gdt_base;
    uint16_t gdt_limit;
    struct fw_segment cs, ds; /* ds is also es, fs, gs, ss */
};

struct fw_boot_params {
    unsigned ncpus;
    uint64_t mem_size;
    uint64_t tsc_khz;
    uint64_t flags; /* HV_BOOT_F_* */
    const char *cmdline; /* may be NULL */
    uint64_t entry;      /* guest entry point (GPA == VA) */
};

/* Writes page tables, GDT and boot info into ram (mem_size bytes, mapped
 * at GPA 0), per lib/hv_abi.h. Returns 0, or -1 if the parameters do not fit
 * (mem_size outside [HV_RAM_MIN, HV_PROT_BASE], ncpus out of range, or a
 * command line longer than HV_CMDLINE_MAX - 1). */
int fw_boot_setup(uint8_t *ram, const struct fw_boot_params *p);

/* The state vCPU `cpu` starts in: 64-bit mode, CPL 0, paging on. */
void fw_cpu_state(const struct fw_boot_params *p, unsigned cpu,
                  struct fw_cpu_state *st);

/* The firmware stub's measurable identity: the bytes it writes that are
 * the same for every boot of a configuration (GDT and page tables). */
const uint8_t *fw_stub_bytes(const uint8_t *ram, size_t *len);

#endif /* FW_H */

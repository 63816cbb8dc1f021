/* fw_boot.c: long-mode boot state for the demo guest (no BIOS, no real mode).
 *
 * Page tables map guest memory per lib/hv_abi.h: identity for RAM and the
 * protected region, plus a second, writable, user-accessible alias of the
 * protected region. Every page is writable at this level on purpose: the
 * guest's own paging is the guest's to change, so hvpatch never relies on
 * it; the read-only second-level memslot is what keeps code unchanged. */
#include <string.h>

#include "firmware/fw.h"
#include "lib/hv_abi.h"

#define PTE_P 0x001ull
#define PTE_W 0x002ull
#define PTE_U 0x004ull
#define PTE_PS 0x080ull /* 2 MiB page in a PD entry */

#define PAGE 0x1000ull
#define LARGE 0x200000ull

#define CR0_PE 0x00000001ull
#define CR0_MP 0x00000002ull
#define CR0_ET 0x00000010ull
#define CR0_NE 0x00000020ull
#define CR0_WP 0x00010000ull
#define CR0_AM 0x00040000ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x00000020ull
#define CR4_OSFXSR 0x00000200ull
#define CR4_OSXMMEXCPT 0x00000400ull
#define EFER_SCE 0x001ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

/* Page-table pages, in order, from HV_FW_PT_GPA. */
enum {
    PT_PML4,
    PT_PDPT,
    PT_PD_LOW,   /* VA 0 .. 1 GiB: RAM */
    PT_PD_PROT,  /* VA 1 .. 2 GiB: protected region */
    PT_PD_ALIAS, /* VA 2 .. 3 GiB: alias of the protected region */
    PT_LOW0,     /* 4 KiB pages for RAM below HV_RAM_MIN */
    PT_PROT0 = PT_LOW0 + HV_RAM_MIN / LARGE,
    PT_ALIAS0 = PT_PROT0 + HV_PROT_SIZE / LARGE,
    PT_PAGES = PT_ALIAS0 + HV_PROT_SIZE / LARGE,
};

_Static_assert(PT_PAGES * PAGE <= HV_FW_PT_SIZE, "page tables too big");
_Static_assert(HV_PROT_BASE == 1ull << 30, "protected region is PDPT[1]");
_Static_assert(HV_ALIAS_BASE == 2ull << 30, "alias is PDPT[2]");

static uint64_t *pt_page(uint8_t *ram, unsigned i)
{
    return (uint64_t *)(void *)(ram + HV_FW_PT_GPA + i * PAGE);
}

static uint64_t pt_gpa(unsigned i)
{
    return HV_FW_PT_GPA + i * PAGE;
}

/* User-accessible 4 KiB pages below HV_RAM_MIN: boot info (read by the
 * workloads), the shared counters and the user data area. */
static uint64_t low_flags(uint64_t gpa)
{
    if (gpa == 0)
        return 0; /* keep null dereferences faulting */
    if (gpa == HV_BOOT_INFO_GPA || gpa == HV_SHARED_GPA ||
        (gpa >= HV_UDATA_GPA && gpa < HV_UDATA_GPA + HV_UDATA_SIZE))
        return PTE_P | PTE_W | PTE_U;
    return PTE_P | PTE_W;
}

/* Kernel text and kernel patch area are supervisor; the user text and the
 * user patch area are user (see hv_abi.h). */
static uint64_t prot_flags(uint64_t off)
{
    unsigned part = (unsigned)(off / HV_PROT_PART_SIZE);
    return PTE_P | PTE_W | ((part & 1) ? PTE_U : 0);
}

static void build_page_tables(uint8_t *ram, uint64_t mem_size)
{
    memset(ram + HV_FW_PT_GPA, 0, PT_PAGES * PAGE);
    uint64_t *pml4 = pt_page(ram, PT_PML4), *pdpt = pt_page(ram, PT_PDPT);
    pml4[0] = pt_gpa(PT_PDPT) | PTE_P | PTE_W | PTE_U;
    pdpt[0] = pt_gpa(PT_PD_LOW) | PTE_P | PTE_W | PTE_U;
    pdpt[1] = pt_gpa(PT_PD_PROT) | PTE_P | PTE_W | PTE_U;
    pdpt[2] = pt_gpa(PT_PD_ALIAS) | PTE_P | PTE_W | PTE_U;

    uint64_t *pd = pt_page(ram, PT_PD_LOW);
    for (uint64_t va = 0; va < mem_size; va += LARGE) {
        unsigned i = (unsigned)(va / LARGE);
        if (va < HV_RAM_MIN) {
            pd[i] = pt_gpa(PT_LOW0 + i) | PTE_P | PTE_W | PTE_U;
            uint64_t *pt = pt_page(ram, PT_LOW0 + i);
            for (unsigned j = 0; j < 512; j++) {
                uint64_t gpa = va + j * PAGE, f = low_flags(gpa);
                pt[j] = f ? gpa | f : 0;
            }
        } else {
            pd[i] = va | PTE_P | PTE_W | PTE_PS;
        }
    }

    uint64_t *pdp = pt_page(ram, PT_PD_PROT), *pda = pt_page(ram, PT_PD_ALIAS);
    for (unsigned i = 0; i < HV_PROT_SIZE / LARGE; i++) {
        pdp[i] = pt_gpa(PT_PROT0 + i) | PTE_P | PTE_W | PTE_U;
        pda[i] = pt_gpa(PT_ALIAS0 + i) | PTE_P | PTE_W | PTE_U;
        uint64_t *pt = pt_page(ram, PT_PROT0 + i);
        uint64_t *pta = pt_page(ram, PT_ALIAS0 + i);
        for (unsigned j = 0; j < 512; j++) {
            uint64_t off = i * LARGE + j * PAGE;
            pt[j] = (HV_PROT_BASE + off) | prot_flags(off);
            pta[j] = (HV_PROT_BASE + off) | PTE_P | PTE_W | PTE_U;
        }
    }
}

/* A flat code/data descriptor: base 0, limit 4 GiB, present. */
static uint64_t gdt_entry(unsigned dpl, int code, int is64)
{
    uint64_t d = 0xffffull | (0xfull << 48); /* limit 0xfffff */
    d |= 1ull << 44;                         /* S: code/data */
    d |= (uint64_t)dpl << 45;
    d |= 1ull << 47;        /* P */
    d |= 1ull << 55;        /* G: 4 KiB granularity */
    d |= code ? (0xaull << 40) : (0x2ull << 40); /* exec/read or read/write */
    if (code && is64)
        d |= 1ull << 53; /* L */
    else
        d |= 1ull << 54; /* D/B */
    return d;
}

static void build_gdt(uint8_t *ram)
{
    uint64_t gdt[HV_FW_GDT_ENTRIES] = {0};
    gdt[HV_FW_SEL_KCODE / 8] = gdt_entry(0, 1, 1);
    gdt[HV_FW_SEL_KDATA / 8] = gdt_entry(0, 0, 0);
    gdt[HV_FW_SEL_UCODE32 / 8] = gdt_entry(3, 1, 0);
    gdt[HV_FW_SEL_UDATA / 8] = gdt_entry(3, 0, 0);
    gdt[HV_FW_SEL_UCODE / 8] = gdt_entry(3, 1, 1);
    memcpy(ram + HV_FW_GDT_GPA, gdt, sizeof gdt);
}

static int build_boot_info(uint8_t *ram, const struct fw_boot_params *p)
{
    struct hv_boot_info bi = {
        .magic = HV_BOOT_MAGIC,
        .abi_version = HV_ABI_VERSION,
        .ncpus = p->ncpus,
        .mem_size = p->mem_size,
        .tsc_khz = p->tsc_khz,
        .prot_base = HV_PROT_BASE,
        .prot_size = HV_PROT_SIZE,
        .flags = p->flags,
    };
    if (p->cmdline) {
        size_t n = strlen(p->cmdline);
        if (n >= sizeof bi.cmdline)
            return -1;
        memcpy(bi.cmdline, p->cmdline, n);
    }
    memcpy(ram + HV_BOOT_INFO_GPA, &bi, sizeof bi);
    memset(ram + HV_SHARED_GPA, 0, sizeof(struct hv_shared));
    return 0;
}

int fw_boot_setup(uint8_t *ram, const struct fw_boot_params *p)
{
    if (p->mem_size < HV_RAM_MIN || p->mem_size > HV_PROT_BASE ||
        p->mem_size % LARGE != 0 || p->ncpus == 0 ||
        p->ncpus > HV_MAX_VCPUS)
        return -1;
    if (build_boot_info(ram, p) != 0)
        return -1;
    build_gdt(ram);
    build_page_tables(ram, p->mem_size);
    return 0;
}

void fw_cpu_state(const struct fw_boot_params *p, unsigned cpu,
                  struct fw_cpu_state *st)
{
    memset(st, 0, sizeof *st);
    st->rip = p->entry;
    st->rsp = HV_BOOT_STACK_TOP(cpu);
    st->rdi = cpu;
    st->rsi = HV_BOOT_INFO_GPA;
    st->rflags = 0x2; /* reserved bit; IF clear */
    st->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    st->cr3 = pt_gpa(PT_PML4);
    st->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    st->efer = EFER_SCE | EFER_LME | EFER_LMA;
    st->gdt_base = HV_FW_GDT_GPA;
    st->gdt_limit = HV_FW_GDT_ENTRIES * 8 - 1;
    st->cs = (struct fw_segment){
        .selector = HV_FW_SEL_KCODE, .type = 0xb, .s = 1, .l = 1};
    st->ds = (struct fw_segment){
        .selector = HV_FW_SEL_KDATA, .type = 0x3, .s = 1, .db = 1};
}

const uint8_t *fw_stub_bytes(const uint8_t *ram, size_t *len)
{
    /* GDT and page tables are contiguous from HV_FW_GDT_GPA up to the end
     * of the page tables actually used. */
    *len = (size_t)(pt_gpa(PT_PAGES) - HV_FW_GDT_GPA);
    return ram + HV_FW_GDT_GPA;
}

/* fw_linux.c: boot firmware for a Linux guest: e820 map, boot_params or
 * PVH start info, GDT, identity page tables and the boot vCPU's state.
 *
 * Structures the kernel reads are written byte by byte at the offsets its
 * documentation gives (Documentation/arch/x86/zero-page.rst, boot.rst,
 * xen/include/public/arch-x86/hvm/start_info.h), never as C structs. */
#include <string.h>

#include "firmware/fw_linux.h"

#define PAGE 0x1000ull
#define LARGE 0x200000ull
#define GIB (1ull << 30)

/* boot_params ("zero page") offsets. */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_SENTINEL 0x1ef
#define BP_VID_MODE 0x1fa
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_HARDWARE_SUBARCH 0x23c
#define BP_HARDWARE_SUBARCH_DATA 0x240
#define BP_SETUP_DATA 0x250
#define BP_E820_TABLE 0x2d0
#define BP_E820_ENTRY_SIZE 20u
#define BP_E820_MAX 128u

#define LOADER_UNDEFINED 0xff /* type_of_loader: no assigned id */
#define LOADFLAGS_LOADED_HIGH 0x01
#define VID_MODE_NORMAL 0xffff

/* hvm_start_info and friends (version 1). */
#define PVH_MAGIC 0x336ec578u
#define PVH_START_INFO_SIZE 56u
#define PVH_MODLIST_OFF 0x40u
#define PVH_MODLIST_ENTRY_SIZE 32u
#define PVH_MEMMAP_OFF 0x80u
#define PVH_MEMMAP_ENTRY_SIZE 24u

#define PTE_P 0x001ull
#define PTE_W 0x002ull
#define PTE_PS 0x080ull

#define CR0_PE 0x00000001ull
#define CR0_ET 0x00000010ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x00000020ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

_Static_assert(PVH_MEMMAP_OFF + FW_LINUX_E820_MAX * PVH_MEMMAP_ENTRY_SIZE <=
                   FW_LINUX_BOOT_SIZE,
               "PVH start info block fits its page");
_Static_assert(FW_LINUX_E820_MAX <= BP_E820_MAX, "zero page e820 table");
_Static_assert(FW_LINUX_PT_GPA + FW_LINUX_PT_PAGES * PAGE <= FW_LINUX_FW_END,
               "page tables inside the firmware area");
_Static_assert(FW_LINUX_ACPI_GPA + FW_LINUX_ACPI_SIZE <= FW_LINUX_GDT_GPA,
               "ACPI area below the GDT");
_Static_assert(FW_LINUX_RESET_GPA + 16 == FW_LINUX_FW_END, "reset vector");

/* The real-mode code at F000:FFF0, where Linux's BIOS reboot path
 * (machine_real_restart) and a CPU reset land: reset through the same
 * port and value as the FADT reset register, then halt. */
/* clang-format off */
static const uint8_t reset_vector[16] = {
    0xba, FW_LINUX_PORT_RESET & 0xff, FW_LINUX_PORT_RESET >> 8, /* mov dx */
    0xb0, FW_LINUX_RESET_VALUE,                                 /* mov al */
    0xee,                                                       /* out */
    0xfa,                                                       /* cli */
    0xf4,                                                       /* hlt */
    0xeb, 0xfd,                                                 /* jmp hlt */
};
/* clang-format on */

static const char *const fw_linux_msgs[] = {
    [0] = "ok",
    [1] = "guest RAM size out of range (16 MiB .. 3 GiB, 4 KiB aligned)",
    [2] = "vCPU count out of range",
    [3] = "a reserved range is empty, wraps or lies below 1 MiB (or >4)",
    [4] = "command line longer than the kernel accepts",
    [5] = "kernel description inconsistent with the kernel file",
    [6] = "a kernel segment is not inside guest RAM above 1 MiB",
    [7] = "no room for the initrd in guest RAM below the kernel's limit",
    [8] = "memory map needs too many e820 entries",
    [9] = "ACPI tables do not fit their area",
};

const char *fw_linux_strerror(int err)
{
    unsigned i = (unsigned)-err;
    if (err > 0 || i >= sizeof fw_linux_msgs / sizeof fw_linux_msgs[0])
        return "unknown Linux boot error";
    return fw_linux_msgs[i];
}

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ------------------------------------------------------------ e820 */

struct span {
    uint64_t start, end; /* [start, end) */
    uint32_t type;
};

static int check_config(const struct fw_linux_config *cfg)
{
    if (cfg->mem_size < FW_LINUX_RAM_MIN || cfg->mem_size > FW_LINUX_RAM_MAX ||
        cfg->mem_size % PAGE != 0)
        return FW_LINUX_ERR_MEM_SIZE;
    if (cfg->ncpus == 0 || cfg->ncpus > FW_LINUX_MAX_CPUS)
        return FW_LINUX_ERR_NCPUS;
    if (cfg->nreserved > FW_LINUX_MAX_RESERVED)
        return FW_LINUX_ERR_RESERVED;
    for (unsigned i = 0; i < cfg->nreserved; i++) {
        const struct fw_linux_range *r = &cfg->reserved[i];
        if (r->size == 0 || r->gpa < FW_LINUX_HIGH_GPA ||
            r->gpa + r->size < r->gpa)
            return FW_LINUX_ERR_RESERVED;
    }
    return FW_LINUX_OK;
}

/* Reserved wins over RAM; 0 means a hole. */
static uint32_t type_at(const struct span *s, unsigned n, uint64_t a)
{
    uint32_t t = 0;
    for (unsigned i = 0; i < n; i++)
        if (a >= s[i].start && a < s[i].end &&
            (t == 0 || s[i].type == FW_E820_RESERVED))
            t = s[i].type;
    return t;
}

int fw_linux_e820(const struct fw_linux_config *cfg, struct fw_linux_e820 *out,
                  unsigned max, unsigned *n)
{
    struct span s[4 + FW_LINUX_MAX_RESERVED];
    uint64_t pts[2 * (4 + FW_LINUX_MAX_RESERVED)];
    unsigned ns = 0, np = 0;
    *n = 0;
    int ret = check_config(cfg);
    if (ret != FW_LINUX_OK)
        return ret;
    s[ns++] = (struct span){0, FW_LINUX_EBDA_GPA, FW_E820_RAM};
    s[ns++] =
        (struct span){FW_LINUX_EBDA_GPA, FW_LINUX_LOW_END, FW_E820_RESERVED};
    s[ns++] = (struct span){FW_LINUX_FW_GPA, FW_LINUX_FW_END, FW_E820_RESERVED};
    s[ns++] = (struct span){FW_LINUX_HIGH_GPA, cfg->mem_size, FW_E820_RAM};
    for (unsigned i = 0; i < cfg->nreserved; i++)
        s[ns++] = (struct span){cfg->reserved[i].gpa,
                                cfg->reserved[i].gpa + cfg->reserved[i].size,
                                FW_E820_RESERVED};
    /* Every boundary, sorted and unique; each interval between two
     * boundaries has one type. */
    for (unsigned i = 0; i < ns; i++) {
        uint64_t v[2] = {s[i].start, s[i].end};
        for (unsigned j = 0; j < 2; j++) {
            unsigned k = 0;
            while (k < np && pts[k] < v[j])
                k++;
            if (k < np && pts[k] == v[j])
                continue;
            memmove(&pts[k + 1], &pts[k], (np - k) * sizeof pts[0]);
            pts[k] = v[j];
            np++;
        }
    }
    for (unsigned i = 0; i + 1 < np; i++) {
        uint32_t t = type_at(s, ns, pts[i]);
        if (t == 0)
            continue;
        if (*n > 0 && out[*n - 1].type == t &&
            out[*n - 1].addr + out[*n - 1].size == pts[i]) {
            out[*n - 1].size += pts[i + 1] - pts[i];
            continue;
        }
        if (*n == max)
            return FW_LINUX_ERR_E820;
        out[(*n)++] = (struct fw_linux_e820){pts[i], pts[i + 1] - pts[i], t};
    }
    return FW_LINUX_OK;
}

/* ------------------------------------------------------------ plan */

static int in_ram(const struct fw_linux_layout *lay, uint64_t a, uint64_t len)
{
    for (unsigned i = 0; i < lay->ne820; i++) {
        const struct fw_linux_e820 *e = &lay->e820[i];
        if (e->type == FW_E820_RAM && a >= e->addr && a - e->addr <= e->size &&
            len <= e->size - (a - e->addr))
            return 1;
    }
    return 0;
}

static int check_kernel(const struct fw_linux_kernel *k,
                        struct fw_linux_layout *lay)
{
    int entry_ok = 0;
    if ((k->kind != FW_LINUX_ENTRY_BZIMAGE64 &&
         k->kind != FW_LINUX_ENTRY_PVH) ||
        k->nsegs == 0 || k->nsegs > FW_LINUX_MAX_SEGS)
        return FW_LINUX_ERR_KERNEL;
    if (k->kind == FW_LINUX_ENTRY_BZIMAGE64 &&
        (k->setup_header_len < 0x268 - FW_LINUX_SETUP_HDR_OFF ||
         k->setup_header_len > sizeof k->setup_header))
        return FW_LINUX_ERR_KERNEL;
    lay->kernel_start = ~0ull;
    lay->kernel_end = 0;
    for (unsigned i = 0; i < k->nsegs; i++) {
        const struct fw_linux_seg *s = &k->segs[i];
        if (s->memsz == 0 || s->filesz > s->memsz || s->gpa + s->memsz < s->gpa)
            return FW_LINUX_ERR_KERNEL;
        for (unsigned j = 0; j < i; j++) {
            const struct fw_linux_seg *o = &k->segs[j];
            if (s->gpa < o->gpa + o->memsz && o->gpa < s->gpa + s->memsz)
                return FW_LINUX_ERR_KERNEL;
        }
        if (s->gpa < FW_LINUX_HIGH_GPA || !in_ram(lay, s->gpa, s->memsz))
            return FW_LINUX_ERR_KERNEL_RAM;
        if (s->exec && k->entry >= s->gpa && k->entry - s->gpa < s->filesz)
            entry_ok = 1;
        if (s->gpa < lay->kernel_start)
            lay->kernel_start = s->gpa;
        if (s->gpa + s->memsz > lay->kernel_end)
            lay->kernel_end = s->gpa + s->memsz;
    }
    return entry_ok ? FW_LINUX_OK : FW_LINUX_ERR_KERNEL;
}

/* The initrd goes as high as possible (boot.rst's advice), page aligned,
 * inside one RAM range, below the kernel's limit and clear of it. */
static int place_initrd(const struct fw_linux_config *cfg,
                        const struct fw_linux_kernel *k,
                        struct fw_linux_layout *lay)
{
    uint64_t size = cfg->initrd_size;
    if (size == 0)
        return FW_LINUX_OK;
    for (unsigned i = lay->ne820; i-- > 0;) {
        const struct fw_linux_e820 *e = &lay->e820[i];
        uint64_t top = e->addr + e->size;
        if (e->type != FW_E820_RAM)
            continue;
        if (top > k->initrd_end_max)
            top = k->initrd_end_max;
        while (top >= size && top > e->addr) {
            uint64_t start = (top - size) & ~(PAGE - 1);
            if (start < e->addr || start < FW_LINUX_HIGH_GPA)
                break;
            if (start >= lay->kernel_end || start + size <= lay->kernel_start) {
                lay->initrd_gpa = start;
                lay->initrd_size = size;
                return FW_LINUX_OK;
            }
            top = lay->kernel_start; /* try below the kernel */
        }
    }
    return FW_LINUX_ERR_INITRD;
}

int fw_linux_plan(const struct fw_linux_config *cfg,
                  const struct fw_linux_kernel *k, struct fw_linux_layout *lay)
{
    memset(lay, 0, sizeof *lay);
    int ret = fw_linux_e820(cfg, lay->e820, FW_LINUX_E820_MAX, &lay->ne820);
    if (ret != FW_LINUX_OK)
        goto fail;
    size_t len = cfg->cmdline ? strlen(cfg->cmdline) : 0;
    ret = FW_LINUX_ERR_CMDLINE;
    if (len > k->cmdline_max || len > FW_LINUX_CMDLINE_MAX)
        goto fail;
    ret = check_kernel(k, lay);
    if (ret != FW_LINUX_OK)
        goto fail;
    ret = place_initrd(cfg, k, lay);
    if (ret != FW_LINUX_OK)
        goto fail;
    lay->kind = k->kind;
    lay->entry = k->entry;
    lay->boot_gpa = FW_LINUX_BOOT_GPA;
    lay->boot_size = FW_LINUX_BOOT_SIZE;
    lay->cmdline_gpa = FW_LINUX_CMDLINE_GPA;
    lay->cmdline_len = len;
    lay->rsdp_gpa = FW_LINUX_ACPI_GPA;
    lay->fw_gpa = FW_LINUX_FW_GPA;
    lay->fw_size = FW_LINUX_FW_END - FW_LINUX_FW_GPA;
    lay->text_gpa = k->text_gpa;
    lay->text_size = k->text_size;
    return FW_LINUX_OK;
fail:
    memset(lay, 0, sizeof *lay);
    return ret;
}

/* ------------------------------------------------------------ writers */

/* A flat 4 GiB code or data descriptor, DPL 0, present. */
static uint64_t gdt_entry(int code, int is64)
{
    uint64_t d = 0xffffull | (0xfull << 48); /* limit 0xfffff, 4 KiB units */
    d |= 1ull << 44;                         /* S: code/data */
    d |= 1ull << 47;                         /* P */
    d |= 1ull << 55;                         /* G */
    d |= code ? (0xbull << 40) : (0x3ull << 40); /* exec/read or read/write,
                                                    accessed */
    if (code && is64)
        d |= 1ull << 53; /* L */
    else
        d |= 1ull << 54; /* D/B: 32-bit */
    return d;
}

/* fw points at the firmware area (GPA FW_LINUX_FW_GPA), here and below. */
static void write_gdt(uint8_t *fw, enum fw_linux_entry kind)
{
    uint8_t *g = fw + (FW_LINUX_GDT_GPA - FW_LINUX_FW_GPA);
    memset(g, 0, FW_LINUX_GDT_ENTRIES * 8);
    put(g + FW_LINUX_SEL_CS, gdt_entry(1, kind == FW_LINUX_ENTRY_BZIMAGE64), 8);
    put(g + FW_LINUX_SEL_DS, gdt_entry(0, 0), 8);
}

/* Identity map of the first 4 GiB with 2 MiB pages: covers the kernel and
 * its init_size, boot_params and the command line, as the 64-bit boot
 * protocol requires, wherever they are. */
static void write_page_tables(uint8_t *fw)
{
    uint8_t *pt = fw + (FW_LINUX_PT_GPA - FW_LINUX_FW_GPA);
    uint64_t pml4 = FW_LINUX_PT_GPA, pdpt = pml4 + PAGE, pd0 = pdpt + PAGE;
    memset(pt, 0, FW_LINUX_PT_PAGES * PAGE);
    put(pt, pdpt | PTE_P | PTE_W, 8);
    for (unsigned i = 0; i < 4; i++) {
        put(pt + PAGE + 8 * i, (pd0 + i * PAGE) | PTE_P | PTE_W, 8);
        for (unsigned j = 0; j < 512; j++)
            put(pt + 2 * PAGE + i * PAGE + 8 * j,
                (i * GIB + j * LARGE) | PTE_P | PTE_W | PTE_PS, 8);
    }
}

static void write_zero_page(uint8_t *ram, const struct fw_linux_kernel *k,
                            const struct fw_linux_layout *lay)
{
    uint8_t *zp = ram + FW_LINUX_BOOT_GPA;
    memset(zp, 0, FW_LINUX_BOOT_SIZE);
    /* The setup header as the image has it; then the fields the boot
     * protocol has the loader fill in (its "obligatory" and "modify"
     * fields), everything else stays the kernel's own. */
    memcpy(zp + FW_LINUX_SETUP_HDR_OFF, k->setup_header, k->setup_header_len);
    put(zp + BP_VID_MODE, VID_MODE_NORMAL, 2);
    zp[BP_TYPE_OF_LOADER] = LOADER_UNDEFINED;
    zp[BP_LOADFLAGS] = LOADFLAGS_LOADED_HIGH; /* no heap, no quiet */
    put(zp + BP_CODE32_START, k->segs[0].gpa, 4);
    put(zp + BP_RAMDISK_IMAGE, lay->initrd_gpa & 0xffffffffu, 4);
    put(zp + BP_RAMDISK_SIZE, lay->initrd_size & 0xffffffffu, 4);
    put(zp + BP_EXT_RAMDISK_IMAGE, lay->initrd_gpa >> 32, 4);
    put(zp + BP_EXT_RAMDISK_SIZE, lay->initrd_size >> 32, 4);
    put(zp + BP_HEAP_END_PTR, 0, 2);
    put(zp + BP_CMD_LINE_PTR, lay->cmdline_gpa, 4);
    put(zp + BP_EXT_CMD_LINE_PTR, 0, 4);
    put(zp + BP_HARDWARE_SUBARCH, 0, 4); /* X86_SUBARCH_PC */
    put(zp + BP_HARDWARE_SUBARCH_DATA, 0, 8);
    put(zp + BP_SETUP_DATA, 0, 8);
    put(zp + BP_ACPI_RSDP_ADDR, lay->rsdp_gpa, 8);
    zp[BP_SENTINEL] = 0;
    zp[BP_E820_ENTRIES] = (uint8_t)lay->ne820;
    for (unsigned i = 0; i < lay->ne820; i++) {
        uint8_t *e = zp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;
        put(e, lay->e820[i].addr, 8);
        put(e + 8, lay->e820[i].size, 8);
        put(e + 16, lay->e820[i].type, 4);
    }
}

static void write_pvh_info(uint8_t *ram, const struct fw_linux_layout *lay)
{
    uint8_t *si = ram + FW_LINUX_BOOT_GPA;
    uint64_t modlist = FW_LINUX_BOOT_GPA + PVH_MODLIST_OFF;
    uint64_t memmap = FW_LINUX_BOOT_GPA + PVH_MEMMAP_OFF;
    memset(si, 0, FW_LINUX_BOOT_SIZE);
    put(si + 0, PVH_MAGIC, 4);
    put(si + 4, 1, 4); /* version 1: memmap present */
    put(si + 8, 0, 4); /* flags */
    put(si + 12, lay->initrd_size ? 1 : 0, 4);
    put(si + 16, lay->initrd_size ? modlist : 0, 8);
    put(si + 24, lay->cmdline_gpa, 8);
    put(si + 32, lay->rsdp_gpa, 8);
    put(si + 40, memmap, 8);
    put(si + 48, lay->ne820, 4);
    if (lay->initrd_size) {
        uint8_t *m = si + PVH_MODLIST_OFF;
        put(m, lay->initrd_gpa, 8);
        put(m + 8, lay->initrd_size, 8);
        /* cmdline_paddr (16) and reserved (24) stay 0 */
    }
    for (unsigned i = 0; i < lay->ne820; i++) {
        uint8_t *e = si + PVH_MEMMAP_OFF + i * PVH_MEMMAP_ENTRY_SIZE;
        put(e, lay->e820[i].addr, 8);
        put(e + 8, lay->e820[i].size, 8);
        put(e + 16, lay->e820[i].type, 4);
    }
}

int fw_linux_fw_area(uint8_t *fw, enum fw_linux_entry kind, unsigned ncpus)
{
    struct fw_acpi_info acpi;
    uint8_t tables[2048]; /* 64 vCPUs need about 1.1 KiB */
    if (kind != FW_LINUX_ENTRY_BZIMAGE64 && kind != FW_LINUX_ENTRY_PVH)
        return FW_LINUX_ERR_KERNEL;
    int ret = fw_acpi_build(tables, sizeof tables, FW_LINUX_ACPI_GPA, ncpus,
                            &acpi);
    if (ret != FW_LINUX_OK)
        return ret;
    /* Every check is done: from here on only writes. */
    memset(fw, 0, FW_LINUX_FW_SIZE);
    memcpy(fw + (FW_LINUX_ACPI_GPA - FW_LINUX_FW_GPA), tables, acpi.size);
    write_gdt(fw, kind);
    if (kind == FW_LINUX_ENTRY_BZIMAGE64)
        write_page_tables(fw);
    memcpy(fw + (FW_LINUX_RESET_GPA - FW_LINUX_FW_GPA), reset_vector,
           sizeof reset_vector);
    return FW_LINUX_OK;
}

int fw_linux_setup(uint8_t *ram, const struct fw_linux_config *cfg,
                   const struct fw_linux_kernel *k, const uint8_t *kimg,
                   size_t klen, const uint8_t *initrd,
                   struct fw_linux_layout *lay)
{
    int ret = fw_linux_plan(cfg, k, lay);
    if (ret != FW_LINUX_OK)
        return ret;
    ret = FW_LINUX_ERR_KERNEL;
    for (unsigned i = 0; i < k->nsegs; i++)
        if (k->segs[i].offset > klen ||
            k->segs[i].filesz > klen - k->segs[i].offset)
            goto fail;
    ret = FW_LINUX_ERR_INITRD;
    if (lay->initrd_size && !initrd)
        goto fail;
    /* The firmware area first: it writes nothing unless it succeeds. */
    ret = fw_linux_fw_area(ram + FW_LINUX_FW_GPA, k->kind, cfg->ncpus);
    if (ret != FW_LINUX_OK)
        goto fail;

    /* Every check is done: from here on only writes. */
    memset(ram, 0, FW_LINUX_FW_GPA);
    if (lay->cmdline_len)
        memcpy(ram + lay->cmdline_gpa, cfg->cmdline, lay->cmdline_len);
    /* the NUL: the area was zeroed with the rest of the first MiB */
    if (k->kind == FW_LINUX_ENTRY_BZIMAGE64)
        write_zero_page(ram, k, lay);
    else
        write_pvh_info(ram, lay);
    for (unsigned i = 0; i < k->nsegs; i++) {
        const struct fw_linux_seg *s = &k->segs[i];
        memcpy(ram + s->gpa, kimg + s->offset, s->filesz);
        memset(ram + s->gpa + s->filesz, 0, s->memsz - s->filesz);
    }
    if (lay->initrd_size)
        memcpy(ram + lay->initrd_gpa, initrd, lay->initrd_size);
    return FW_LINUX_OK;
fail:
    memset(lay, 0, sizeof *lay);
    return ret;
}

void fw_linux_cpu_state(const struct fw_linux_layout *lay,
                        struct fw_linux_cpu *st)
{
    struct fw_cpu_state *f = &st->fw;
    memset(st, 0, sizeof *st);
    f->rip = lay->entry;
    f->rsp = FW_LINUX_STACK_TOP;
    f->rflags = 0x2; /* reserved bit; IF, TF, VM clear */
    f->gdt_base = FW_LINUX_GDT_GPA;
    f->gdt_limit = FW_LINUX_GDT_ENTRIES * 8 - 1;
    f->ds = (struct fw_segment){
        .selector = FW_LINUX_SEL_DS, .type = 0x3, .s = 1, .db = 1};
    if (lay->kind == FW_LINUX_ENTRY_BZIMAGE64) {
        f->rsi = lay->boot_gpa;
        f->cr0 = CR0_PE | CR0_ET | CR0_PG;
        f->cr3 = FW_LINUX_PT_GPA;
        f->cr4 = CR4_PAE;
        f->efer = EFER_LME | EFER_LMA;
        f->cs = (struct fw_segment){
            .selector = FW_LINUX_SEL_CS, .type = 0xb, .s = 1, .l = 1};
    } else {
        st->rbx = lay->boot_gpa;
        f->cr0 = CR0_PE | CR0_ET; /* paging off; cr3, cr4, efer 0 */
        f->cs = (struct fw_segment){
            .selector = FW_LINUX_SEL_CS, .type = 0xb, .s = 1, .db = 1};
    }
}

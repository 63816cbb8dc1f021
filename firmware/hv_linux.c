/* hv_linux.c: strict parsers of Linux kernel files (bzImage, PVH vmlinux).
 *
 * The file is untrusted input: every field is range-checked before use and
 * the parsers read only through the bounds-checked accessors below. Checks
 * run as numbered steps in a fixed order, so a file with several defects
 * always gets the same error. */
#include <elf.h>
#include <string.h>

#include "firmware/hv_linux.h"
#include "lib/hv_bytes.h"

#define MIB (1ull << 20)
#define FOUR_GIB (1ull << 32)

/* Setup header offsets in the image (boot.rst, "THE REAL-MODE KERNEL
 * HEADER"). */
#define BZ_SETUP_SECTS 0x1f1
#define BZ_SYSSIZE 0x1f4
#define BZ_BOOT_FLAG 0x1fe
#define BZ_JUMP 0x200
#define BZ_HEADER 0x202
#define BZ_VERSION 0x206
#define BZ_KERNEL_VERSION 0x20e
#define BZ_LOADFLAGS 0x211
#define BZ_INITRD_ADDR_MAX 0x22c
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE 0x234
#define BZ_MIN_ALIGNMENT 0x235
#define BZ_XLOADFLAGS 0x236
#define BZ_CMDLINE_SIZE 0x238
#define BZ_PAYLOAD_OFFSET 0x248
#define BZ_PAYLOAD_LENGTH 0x24c
#define BZ_PREF_ADDRESS 0x258
#define BZ_INIT_SIZE 0x260
#define BZ_KERNEL_INFO_OFFSET 0x268
#define BZ_HDR_END_212 0x268             /* last 2.12 field: handover_offset */
#define BZ_HDR_END_215 0x26c             /* 2.15 adds kernel_info_offset */
#define BZ_KERNEL_INFO_MAGIC 0x506f544cu /* "LToP" */

static const char *const hv_linux_msgs[] = {
    [0] = "ok",
    [1] = "kernel file is empty or larger than 256 MiB",
    [2] = "neither a bzImage nor an ELF vmlinux",
    [3] = "bzImage shorter than its setup header",
    [4] = "bzImage: no 0xAA55 boot flag or \"HdrS\" header magic",
    [5] = "bzImage: boot protocol older than 2.12 (no 64-bit entry)",
    [6] = "bzImage: setup header length out of range",
    [7] = "bzImage: setup code (setup_sects) runs past the end of file",
    [8] = "bzImage: protected-mode kernel (syssize) empty or past file end",
    [9] = "bzImage: not loaded high (a zImage)",
    [10] = "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear)",
    [11] = "bzImage: kernel_alignment or pref_address misaligned",
    [12] = "bzImage: load address below 1 MiB or kernel past 4 GiB",
    [13] = "bzImage: init_size smaller than the kernel or too large",
    [14] = "bzImage: cmdline_size is 0",
    [15] = "bzImage: compressed payload outside the kernel",
    [16] = "bzImage: kernel_info malformed",
    [17] = "bzImage: kernel_version string malformed",
    [18] = "vmlinux shorter than an ELF header",
    [19] = "vmlinux: not a 64-bit little-endian ELF version 1 file",
    [20] = "vmlinux: not an x86-64 executable (ET_EXEC, EM_X86_64)",
    [21] = "vmlinux: program header table malformed",
    [22] = "vmlinux: a segment's bytes lie outside the file",
    [23] = "vmlinux: a segment has filesz > memsz or is empty",
    [24] = "vmlinux: a segment lies below 1 MiB or past 4 GiB",
    [25] = "vmlinux: two segments overlap",
    [26] = "vmlinux: no loadable segment, or too many",
    [27] = "vmlinux: dynamically linked (PT_INTERP or PT_DYNAMIC)",
    [28] = "vmlinux: an ELF note runs past the end of its segment",
    [29] = "vmlinux: PT_NOTE segment misaligned",
    [30] = "vmlinux: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)",
    [31] = "vmlinux: PVH note is not a 4- or 8-byte 32-bit address",
    [32] = "vmlinux: more than one PVH entry note",
    [33] = "vmlinux: PVH entry is not in an executable segment",
    [34] = "vmlinux: section table malformed, or .text not at its segment",
};

const char *hv_linux_strerror(int err)
{
    unsigned i = (unsigned)-err;
    if (err > 0 || i >= sizeof hv_linux_msgs / sizeof hv_linux_msgs[0])
        return "unknown kernel image error";
    return hv_linux_msgs[i];
}



static int is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* ------------------------------------------------------------ bzImage */

/* kernel_version: offset - 0x200 of a NUL-terminated printable string in
 * the setup code. 0 means none. */
static int bz_version_string(const uint8_t *b, uint64_t setup_size,
                             struct hv_linux_image *out)
{
    uint64_t kv = hv_rd_le(b + BZ_KERNEL_VERSION, 2);
    if (kv == 0)
        return HV_LINUX_OK;
    uint64_t p = kv + BZ_JUMP;
    for (unsigned i = 0; i < HV_LINUX_VERSION_MAX; i++) {
        if (p + i >= setup_size)
            break;
        uint8_t c = b[p + i];
        if (c == 0) {
            if (i == 0)
                break;
            memcpy(out->version, b + p, i);
            out->version[i] = 0;
            return HV_LINUX_OK;
        }
        if (c < 0x20 || c > 0x7e)
            break;
    }
    return HV_LINUX_ERR_BZ_VERSION_STR;
}

/* kernel_info (2.15+): "LToP", size, size_total, inside the kernel. */
static int bz_kernel_info(const uint8_t *b, uint64_t pm_off, uint64_t pm_len)
{
    uint64_t off = hv_rd_le(b + BZ_KERNEL_INFO_OFFSET, 4);
    if (off > pm_len || pm_len - off < 12)
        return HV_LINUX_ERR_BZ_KERNEL_INFO;
    const uint8_t *ki = b + pm_off + off;
    uint64_t size = hv_rd_le(ki + 4, 4), total = hv_rd_le(ki + 8, 4);
    if (hv_rd_le(ki, 4) != BZ_KERNEL_INFO_MAGIC || size < 12 || total < size ||
        total > pm_len - off)
        return HV_LINUX_ERR_BZ_KERNEL_INFO;
    return HV_LINUX_OK;
}

int hv_linux_parse_bzimage(const uint8_t *b, size_t len,
                           struct hv_linux_image *out)
{
    memset(out, 0, sizeof *out);
    /* 1. Size. */
    if (len == 0 || len > HV_LINUX_MAX_SIZE)
        return HV_LINUX_ERR_SIZE;
    if (len < BZ_VERSION + 2)
        return HV_LINUX_ERR_BZ_SHORT;
    /* 2. Magic: the boot sector flag and the setup header signature. */
    if (hv_rd_le(b + BZ_BOOT_FLAG, 2) != HV_BZ_BOOT_FLAG ||
        hv_rd_le(b + BZ_HEADER, 4) != HV_BZ_HDR_MAGIC)
        return HV_LINUX_ERR_BZ_MAGIC;
    /* 3. Protocol 2.12 or later: xloadflags and the 64-bit entry. */
    uint16_t protocol = (uint16_t)hv_rd_le(b + BZ_VERSION, 2);
    if (protocol < HV_BZ_PROTOCOL_MIN)
        return HV_LINUX_ERR_BZ_VERSION;
    /* 4. The header ends at 0x202 + the byte at 0x201 (the operand of the
     * short jump at 0x200); it must hold every field of its version and
     * stop before edd_mbr_sig_buffer in boot_params. */
    uint64_t hdr_end = 0x202 + (uint64_t)b[BZ_JUMP + 1];
    uint64_t need = protocol >= 0x020f ? BZ_HDR_END_215 : BZ_HDR_END_212;
    if (b[BZ_JUMP] != 0xeb || hdr_end < need ||
        hdr_end > FW_LINUX_SETUP_HDR_END)
        return HV_LINUX_ERR_BZ_HEADER;
    if (len < hdr_end)
        return HV_LINUX_ERR_BZ_SHORT;
    /* 5. Setup code: (setup_sects + 1) sectors, 0 meaning 4; the
     * protected-mode kernel follows it and must not be empty. */
    uint64_t sects = b[BZ_SETUP_SECTS] ? b[BZ_SETUP_SECTS] : 4;
    uint64_t setup_size = (sects + 1) * 512;
    if (setup_size < hdr_end || setup_size >= len)
        return HV_LINUX_ERR_BZ_SETUP_SECTS;
    /* 6. syssize: the protected-mode kernel, in 16-byte units. */
    uint64_t pm_len = hv_rd_le(b + BZ_SYSSIZE, 4) * 16;
    if (pm_len == 0 || pm_len > len - setup_size)
        return HV_LINUX_ERR_BZ_SYSSIZE;
    /* 7. A bzImage, loaded high. */
    if (!(b[BZ_LOADFLAGS] & HV_BZ_LOADED_HIGH))
        return HV_LINUX_ERR_BZ_NOT_HIGH;
    /* 8. A 64-bit entry point at +0x200. */
    uint16_t xlf = (uint16_t)hv_rd_le(b + BZ_XLOADFLAGS, 2);
    if (!(xlf & HV_BZ_XLF_KERNEL_64))
        return HV_LINUX_ERR_BZ_NO64;
    /* 9. Alignment: a power of two from 4 KiB to 1 GiB, at least the
     * kernel's minimum, and the preferred address aligned to it. */
    uint64_t align = hv_rd_le(b + BZ_KERNEL_ALIGNMENT, 4);
    uint64_t min_align = b[BZ_MIN_ALIGNMENT];
    uint64_t pref = hv_rd_le(b + BZ_PREF_ADDRESS, 8);
    if (!is_pow2(align) || align < 0x1000 || align > (1u << 30) ||
        min_align > 30 || (1ull << min_align) > align || pref % align != 0)
        return HV_LINUX_ERR_BZ_ALIGN;
    /* 10. init_size: what the kernel claims from its load address while
     * it decompresses and runs; covers at least the loaded kernel. */
    uint64_t init_size = hv_rd_le(b + BZ_INIT_SIZE, 4);
    if (init_size < pm_len || init_size > HV_LINUX_MAX_INIT)
        return HV_LINUX_ERR_BZ_INIT_SIZE;
    /* 11. Loaded at pref_address (relocatable or not, it is where the
     * kernel wants to run): above the low 1 MiB, below 4 GiB. */
    if (pref < MIB || pref > FOUR_GIB || init_size > FOUR_GIB - pref)
        return HV_LINUX_ERR_BZ_LOAD_ADDR;
    /* 12. The command line the kernel accepts, without its NUL. */
    uint64_t cmdline_size = hv_rd_le(b + BZ_CMDLINE_SIZE, 4);
    if (cmdline_size == 0)
        return HV_LINUX_ERR_BZ_CMDLINE_SIZE;
    /* 13. The compressed payload lies inside the protected-mode kernel. */
    uint64_t po = hv_rd_le(b + BZ_PAYLOAD_OFFSET, 4);
    uint64_t pl = hv_rd_le(b + BZ_PAYLOAD_LENGTH, 4);
    if (pl == 0 || po > pm_len || pl > pm_len - po)
        return HV_LINUX_ERR_BZ_PAYLOAD;
    /* 14. kernel_info, from protocol 2.15. */
    if (protocol >= 0x020f) {
        int ret = bz_kernel_info(b, setup_size, pm_len);
        if (ret != HV_LINUX_OK)
            return ret;
    }
    /* 15. The human-readable version, inside the setup code. */
    int ret = bz_version_string(b, setup_size, out);
    if (ret != HV_LINUX_OK)
        return ret;

    uint64_t initrd_max = hv_rd_le(b + BZ_INITRD_ADDR_MAX, 4);
    struct fw_linux_kernel *k = &out->boot;
    k->kind = FW_LINUX_ENTRY_BZIMAGE64;
    k->entry = pref + HV_BZ_ENTRY64_OFFSET;
    k->nsegs = 1;
    k->segs[0] = (struct fw_linux_seg){
        .offset = setup_size,
        .filesz = pm_len,
        .gpa = pref,
        .memsz = init_size,
        .exec = 1,
    };
    k->cmdline_max = cmdline_size < FW_LINUX_CMDLINE_MAX
                         ? (uint32_t)cmdline_size
                         : FW_LINUX_CMDLINE_MAX;
    /* initrd_addr_max is the highest address the initrd's last byte may
     * occupy; 0 predates the field (boot.rst: assume 0x37ffffff). */
    k->initrd_end_max = (initrd_max ? initrd_max : 0x37ffffffu) + 1;
    k->setup_header_len = hdr_end - FW_LINUX_SETUP_HDR_OFF;
    memcpy(k->setup_header, b + FW_LINUX_SETUP_HDR_OFF, k->setup_header_len);
    out->protocol = protocol;
    out->xloadflags = xlf;
    out->kernel_alignment = (uint32_t)align;
    out->pref_address = pref;
    out->init_size = (uint32_t)init_size;
    out->relocatable = b[BZ_RELOCATABLE] != 0;
    return HV_LINUX_OK;
}

/* ------------------------------------------------------------ PVH ELF */

static int elf_header(const uint8_t *b, size_t len, uint64_t *phoff,
                      unsigned *phnum)
{
    if (len < sizeof(Elf64_Ehdr))
        return HV_LINUX_ERR_ELF_SHORT;
    if (b[EI_CLASS] != ELFCLASS64 || b[EI_DATA] != ELFDATA2LSB ||
        b[EI_VERSION] != EV_CURRENT || hv_rd_le(b + 20, 4) != EV_CURRENT)
        return HV_LINUX_ERR_ELF_CLASS;
    if (hv_rd_le(b + 16, 2) != ET_EXEC || hv_rd_le(b + 18, 2) != EM_X86_64)
        return HV_LINUX_ERR_ELF_TYPE;
    *phoff = hv_rd_le(b + 32, 8);
    *phnum = (unsigned)hv_rd_le(b + 56, 2);
    if (hv_rd_le(b + 54, 2) != sizeof(Elf64_Phdr) || *phnum == 0 ||
        *phnum > HV_LINUX_MAX_PHDRS ||
        !hv_in_bounds(*phoff, (uint64_t)*phnum * sizeof(Elf64_Phdr), len))
        return HV_LINUX_ERR_ELF_PHDRS;
    return HV_LINUX_OK;
}

static int add_load(const uint8_t *ph, size_t len, struct fw_linux_kernel *k)
{
    struct fw_linux_seg s = {
        .offset = hv_rd_le(ph + 8, 8),
        .gpa = hv_rd_le(ph + 24, 8), /* p_paddr: PVH starts with paging off */
        .filesz = hv_rd_le(ph + 32, 8),
        .memsz = hv_rd_le(ph + 40, 8),
        .va = hv_rd_le(ph + 16, 8),
        .exec = (hv_rd_le(ph + 4, 4) & PF_X) != 0,
        .writable = (hv_rd_le(ph + 4, 4) & PF_W) != 0,
    };
    if (!hv_in_bounds(s.offset, s.filesz, len))
        return HV_LINUX_ERR_SEG_FILE;
    if (s.memsz == 0 || s.filesz > s.memsz)
        return HV_LINUX_ERR_SEG_SIZE;
    if (s.gpa < MIB || s.gpa > FOUR_GIB || s.memsz > FOUR_GIB - s.gpa)
        return HV_LINUX_ERR_SEG_ADDR;
    for (unsigned i = 0; i < k->nsegs; i++) {
        const struct fw_linux_seg *o = &k->segs[i];
        if (s.gpa < o->gpa + o->memsz && o->gpa < s.gpa + s.memsz)
            return HV_LINUX_ERR_SEG_OVERLAP;
    }
    if (k->nsegs == FW_LINUX_MAX_SEGS)
        return HV_LINUX_ERR_SEG_COUNT;
    k->segs[k->nsegs++] = s;
    return HV_LINUX_OK;
}

/* Walks the notes of one PT_NOTE segment (Elf64_Nhdr: namesz, descsz,
 * type, then name and desc, each padded to the segment's alignment) and
 * records the PVH entry. *found counts PVH notes across segments. */
static int scan_notes(const uint8_t *b, size_t len, const uint8_t *ph,
                      unsigned *found, uint64_t *entry)
{
    uint64_t off = hv_rd_le(ph + 8, 8), size = hv_rd_le(ph + 32, 8);
    uint64_t palign = hv_rd_le(ph + 48, 8);
    uint64_t a = palign == 8 ? 8 : 4;
    if (palign != 0 && palign != 1 && palign != 4 && palign != 8)
        return HV_LINUX_ERR_NOTE_ALIGN;
    if (off % 4 != 0)
        return HV_LINUX_ERR_NOTE_ALIGN;
    if (!hv_in_bounds(off, size, len))
        return HV_LINUX_ERR_NOTE;
    const uint8_t *n = b + off;
    uint64_t pos = 0;
    while (pos < size) {
        if (size - pos < 12)
            return HV_LINUX_ERR_NOTE;
        uint64_t namesz = hv_rd_le(n + pos, 4), descsz = hv_rd_le(n + pos + 4, 4);
        uint64_t type = hv_rd_le(n + pos + 8, 4);
        uint64_t name = pos + 12;
        uint64_t desc = name + ((namesz + a - 1) & ~(a - 1));
        if (namesz > size - name || desc > size || descsz > size - desc)
            return HV_LINUX_ERR_NOTE;
        if (namesz == 4 && memcmp(n + name, "Xen", 4) == 0 &&
            type == HV_PVH_NOTE_TYPE) {
            /* Linux emits it as _ASM_PTR: 8 bytes on x86-64, 4 on i386;
             * either way a 32-bit physical address. */
            if (descsz != 4 && descsz != 8)
                return HV_LINUX_ERR_PVH_SIZE;
            uint64_t e = hv_rd_le(n + desc, (unsigned)descsz);
            if (e >= FOUR_GIB)
                return HV_LINUX_ERR_PVH_SIZE;
            if (++*found > 1)
                return HV_LINUX_ERR_PVH_DUP;
            *entry = e;
        }
        pos = desc + ((descsz + a - 1) & ~(a - 1));
    }
    return HV_LINUX_OK;
}

/* The section named name in the section table (sh points at n headers,
 * names in strtab[0..strsz)), or NULL. */
static const uint8_t *find_section(const uint8_t *sh, unsigned n,
                                   const uint8_t *strtab, uint64_t strsz,
                                   const char *name)
{
    size_t nlen = strlen(name) + 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t off = hv_rd_le(sh + (uint64_t)i * sizeof(Elf64_Shdr), 4);
        if (off < strsz && strsz - off >= nlen &&
            memcmp(strtab + off, name, nlen) == 0)
            return sh + (uint64_t)i * sizeof(Elf64_Shdr);
    }
    return NULL;
}

/* What the text lock covers: ".text" from the section table, which must
 * start the text segment, page-rounded; the whole segment if the file
 * has no section table (e_shoff 0) or no ".text". */
static int lock_size(const uint8_t *b, size_t len, struct fw_linux_kernel *k)
{
    uint64_t shoff = hv_rd_le(b + 40, 8);
    unsigned shnum = (unsigned)hv_rd_le(b + 60, 2);
    unsigned shstrndx = (unsigned)hv_rd_le(b + 62, 2);
    k->lock_size = k->text_size;
    if (shoff == 0 && shnum == 0)
        return HV_LINUX_OK;
    if (hv_rd_le(b + 58, 2) != sizeof(Elf64_Shdr) || shnum == 0 ||
        shnum > HV_LINUX_MAX_SHDRS || shstrndx >= shnum ||
        !hv_in_bounds(shoff, (uint64_t)shnum * sizeof(Elf64_Shdr), len))
        return HV_LINUX_ERR_ELF_SHDRS;
    const uint8_t *sh = b + shoff;
    const uint8_t *str = sh + (uint64_t)shstrndx * sizeof(Elf64_Shdr);
    uint64_t stroff = hv_rd_le(str + 24, 8), strsz = hv_rd_le(str + 32, 8);
    if (hv_rd_le(str + 4, 4) != SHT_STRTAB ||
        !hv_in_bounds(stroff, strsz, len))
        return HV_LINUX_ERR_ELF_SHDRS;
    const uint8_t *t = find_section(sh, shnum, b + stroff, strsz, ".text");
    if (!t)
        return HV_LINUX_OK;
    uint64_t addr = hv_rd_le(t + 16, 8), size = hv_rd_le(t + 32, 8);
    uint64_t pages = (size + 0xfff) & ~0xfffull;
    if (!(hv_rd_le(t + 8, 8) & SHF_EXECINSTR) || addr != k->text_va ||
        size == 0 || size > k->text_size)
        return HV_LINUX_ERR_ELF_SHDRS;
    k->lock_size = pages < k->text_size ? pages : k->text_size;
    return HV_LINUX_OK;
}

/* The text segment (executable, holding the entry) and the first
 * writable segment mapped above it. */
static int find_text(struct fw_linux_kernel *k, uint64_t entry)
{
    int ret = HV_LINUX_ERR_PVH_ENTRY;
    for (unsigned i = 0; i < k->nsegs; i++) {
        const struct fw_linux_seg *s = &k->segs[i];
        if (s->exec && entry >= s->gpa && entry - s->gpa < s->filesz) {
            k->text_gpa = s->gpa;
            k->text_size = s->filesz;
            k->text_va = s->va;
            ret = HV_LINUX_OK;
            break;
        }
    }
    for (unsigned i = 0; ret == HV_LINUX_OK && i < k->nsegs; i++) {
        const struct fw_linux_seg *s = &k->segs[i];
        if (s->writable && s->va > k->text_va && !k->data_va) {
            k->data_gpa = s->gpa;
            k->data_va = s->va;
        }
    }
    return ret;
}

int hv_linux_parse_pvh(const uint8_t *b, size_t len, struct hv_linux_image *out)
{
    uint64_t phoff, entry = 0;
    unsigned phnum, found = 0;
    memset(out, 0, sizeof *out);
    struct fw_linux_kernel *k = &out->boot;
    /* 1. Size, 2. ELF header and program header table. */
    if (len == 0 || len > HV_LINUX_MAX_SIZE)
        return HV_LINUX_ERR_SIZE;
    if (len < SELFMAG || memcmp(b, ELFMAG, SELFMAG) != 0)
        return HV_LINUX_ERR_FORMAT;
    int ret = elf_header(b, len, &phoff, &phnum);
    if (ret != HV_LINUX_OK)
        return ret;
    /* 3. Every program header: loadable segments and notes. */
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = b + phoff + (uint64_t)i * sizeof(Elf64_Phdr);
        uint32_t type = (uint32_t)hv_rd_le(ph, 4);
        if (type == PT_INTERP || type == PT_DYNAMIC)
            ret = HV_LINUX_ERR_DYNAMIC;
        else if (type == PT_LOAD)
            ret = add_load(ph, len, k);
        else if (type == PT_NOTE)
            ret = scan_notes(b, len, ph, &found, &entry);
        if (ret != HV_LINUX_OK)
            goto fail;
    }
    ret = HV_LINUX_ERR_SEG_COUNT;
    if (k->nsegs == 0)
        goto fail;
    /* 4. The PVH entry: present, in the file bytes of an executable
     * segment, which is the kernel text the monitor locks later. */
    ret = HV_LINUX_ERR_PVH_MISSING;
    if (found == 0)
        goto fail;
    ret = find_text(k, entry);
    if (ret == HV_LINUX_OK)
        ret = lock_size(b, len, k);
    if (ret != HV_LINUX_OK)
        goto fail;
    k->kind = FW_LINUX_ENTRY_PVH;
    k->entry = entry;
    /* COMMAND_LINE_SIZE is 2048 on x86; PVH has no header to say so. */
    k->cmdline_max = 2047;
    k->initrd_end_max = FOUR_GIB;
    return HV_LINUX_OK;
fail:
    memset(out, 0, sizeof *out);
    return ret;
}

int hv_linux_parse(const uint8_t *b, size_t len, struct hv_linux_image *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > HV_LINUX_MAX_SIZE)
        return HV_LINUX_ERR_SIZE;
    if (len >= SELFMAG && memcmp(b, ELFMAG, SELFMAG) == 0)
        return hv_linux_parse_pvh(b, len, out);
    if (len >= BZ_HEADER + 4 && hv_rd_le(b + BZ_BOOT_FLAG, 2) == HV_BZ_BOOT_FLAG &&
        hv_rd_le(b + BZ_HEADER, 4) == HV_BZ_HDR_MAGIC)
        return hv_linux_parse_bzimage(b, len, out);
    return HV_LINUX_ERR_FORMAT;
}

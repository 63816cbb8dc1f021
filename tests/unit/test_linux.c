/* test_linux.c: the Linux kernel parsers accept well-formed images and
 * reject each malformation with its own error; the boot firmware writes
 * boot_params, PVH start info, e820, ACPI tables, GDT and page tables at
 * the offsets the kernel's documentation gives. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/fw_linux.h"
#include "firmware/hv_linux.h"

#define MIB (1ull << 20)
#define RAM_SIZE (16 * MIB)

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ------------------------------------------------------------ bzImage */

/* A minimal valid bzImage: 8 sectors of setup (setup_sects 7), then 4 KiB
 * of "protected-mode kernel" with a payload and kernel_info inside. */
#define BZ_SETUP 0x1000u
#define BZ_PM 0x1000u
#define BZ_LEN (BZ_SETUP + BZ_PM)
#define BZ_PREF 0x400000u
#define BZ_INIT 0x100000u
#define BZ_KINFO 0x800u
#define BZ_VERSION_STR "6.1.0-unit (hvpatch) #1"

static void make_bz(uint8_t *b, size_t *len)
{
    memset(b, 0, BZ_LEN);
    *len = BZ_LEN;
    b[0x1f1] = BZ_SETUP / 512 - 1;    /* setup_sects */
    put(b + 0x1f4, BZ_PM / 16, 4);    /* syssize */
    put(b + 0x1fe, 0xaa55, 2);        /* boot_flag */
    b[0x200] = 0xeb;                  /* jmp: header ends at 0x26c */
    b[0x201] = 0x6a;
    memcpy(b + 0x202, "HdrS", 4);
    put(b + 0x206, 0x020f, 2);        /* protocol 2.15 */
    put(b + 0x20e, 0x600, 2);         /* kernel_version at 0x800 */
    memcpy(b + 0x800, BZ_VERSION_STR, sizeof BZ_VERSION_STR);
    b[0x211] = 0x01;                  /* LOADED_HIGH */
    put(b + 0x214, 0x100000, 4);      /* code32_start */
    put(b + 0x22c, 0x7fffffff, 4);    /* initrd_addr_max */
    put(b + 0x230, 0x200000, 4);      /* kernel_alignment */
    b[0x234] = 1;                     /* relocatable_kernel */
    b[0x235] = 21;                    /* min_alignment: 2 MiB */
    put(b + 0x236, 0x0003, 2);        /* XLF_KERNEL_64 | ABOVE_4G */
    put(b + 0x238, 2047, 4);          /* cmdline_size */
    put(b + 0x248, 0x100, 4);         /* payload_offset */
    put(b + 0x24c, 0x200, 4);         /* payload_length */
    put(b + 0x258, BZ_PREF, 8);       /* pref_address */
    put(b + 0x260, BZ_INIT, 4);       /* init_size */
    put(b + 0x268, BZ_KINFO, 4);      /* kernel_info_offset */
    for (unsigned i = 0; i < BZ_PM; i++)
        b[BZ_SETUP + i] = (uint8_t)(0x90 + i);
    memcpy(b + BZ_SETUP + BZ_KINFO, "LToP", 4);
    put(b + BZ_SETUP + BZ_KINFO + 4, 16, 4);
    put(b + BZ_SETUP + BZ_KINFO + 8, 16, 4);
}

static void test_bz_valid(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    size_t len;
    struct hv_linux_image img;
    make_bz(b, &len);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    assert_int_equal(img.boot.kind, FW_LINUX_ENTRY_BZIMAGE64);
    assert_int_equal(img.boot.entry, BZ_PREF + 0x200);
    assert_int_equal(img.boot.nsegs, 1);
    assert_int_equal(img.boot.segs[0].offset, BZ_SETUP);
    assert_int_equal(img.boot.segs[0].filesz, BZ_PM);
    assert_int_equal(img.boot.segs[0].gpa, BZ_PREF);
    assert_int_equal(img.boot.segs[0].memsz, BZ_INIT);
    assert_int_equal(img.boot.cmdline_max, 2047);
    assert_int_equal(img.boot.initrd_end_max, 0x80000000ull);
    assert_int_equal(img.boot.setup_header_len, 0x26c - 0x1f1);
    assert_memory_equal(img.boot.setup_header, b + 0x1f1, 0x26c - 0x1f1);
    assert_int_equal(img.protocol, 0x020f);
    assert_string_equal(img.version, BZ_VERSION_STR);
    assert_int_equal(img.relocatable, 1);
    /* hv_linux_parse() tells it from an ELF file */
    assert_int_equal(hv_linux_parse(b, len, &img), HV_LINUX_OK);
    assert_int_equal(img.boot.kind, FW_LINUX_ENTRY_BZIMAGE64);
}

/* Protocol 2.12 has no kernel_info; setup_sects 0 means 4. */
static void test_bz_variants(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    size_t len;
    struct hv_linux_image img;
    make_bz(b, &len);
    put(b + 0x206, 0x020c, 2);
    b[0x201] = 0x66; /* header ends at 0x268 */
    memset(b + BZ_SETUP + BZ_KINFO, 0, 4);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    assert_int_equal(img.boot.setup_header_len, 0x268 - 0x1f1);

    make_bz(b, &len);
    b[0x1f1] = 0;
    memcpy(b + 0xa00 + BZ_KINFO, "LToP", 4);
    put(b + 0xa00 + BZ_KINFO + 4, 16, 4);
    put(b + 0xa00 + BZ_KINFO + 8, 16, 4);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    assert_int_equal(img.boot.segs[0].offset, 0xa00);

    make_bz(b, &len);
    put(b + 0x20e, 0, 2); /* no version string */
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    assert_string_equal(img.version, "");
}

struct bz_vector {
    const char *name;
    void (*mutate)(uint8_t *b, size_t *len);
    int want;
};

#define BZ(fn, body)                                                           \
    static void fn(uint8_t *b, size_t *len)                                    \
    {                                                                          \
        (void)b;                                                               \
        (void)len;                                                             \
        body;                                                                  \
    }
BZ(bz_empty, *len = 0)
BZ(bz_tiny, *len = 0x100)
BZ(bz_trunc_header, *len = 0x260)
BZ(bz_boot_flag, put(b + 0x1fe, 0x55aa, 2))
BZ(bz_hdrs, memcpy(b + 0x202, "HdrZ", 4))
BZ(bz_old, put(b + 0x206, 0x020b, 2))
BZ(bz_jump, b[0x200] = 0xe9)
BZ(bz_hdr_short, b[0x201] = 0x66) /* 2.15 needs kernel_info_offset */
BZ(bz_hdr_long, b[0x201] = 0x90)
BZ(bz_sects_overflow, b[0x1f1] = 0xff)
BZ(bz_sects_whole_file, b[0x1f1] = BZ_LEN / 512 - 1)
BZ(bz_syssize0, put(b + 0x1f4, 0, 4))
BZ(bz_syssize_past, put(b + 0x1f4, BZ_PM / 16 + 1, 4))
BZ(bz_syssize_huge, put(b + 0x1f4, 0xffffffff, 4))
BZ(bz_zimage, b[0x211] = 0)
BZ(bz_no64, put(b + 0x236, 0x0002, 2))
BZ(bz_align_npow2, put(b + 0x230, 0x300000, 4))
BZ(bz_align_small, put(b + 0x230, 0x800, 4))
BZ(bz_align_zero, put(b + 0x230, 0, 4))
BZ(bz_min_align, b[0x235] = 22)
BZ(bz_pref_unaligned, put(b + 0x258, BZ_PREF + 0x1000, 8))
BZ(bz_init_small, put(b + 0x260, BZ_PM - 16, 4))
BZ(bz_init_huge, put(b + 0x260, 0xffffffff, 4))
BZ(bz_pref_zero, put(b + 0x258, 0, 8))
BZ(bz_pref_high, put(b + 0x258, 0xffe00000ull, 8); put(b + 0x260, 4 * MIB, 4))
BZ(bz_pref_wrap, put(b + 0x258, 0xffffffffffe00000ull, 8))
BZ(bz_cmdline0, put(b + 0x238, 0, 4))
BZ(bz_payload_past, put(b + 0x248, BZ_PM - 0x100, 4))
BZ(bz_payload_empty, put(b + 0x24c, 0, 4))
BZ(bz_payload_wrap, put(b + 0x248, 0xffffffff, 4))
BZ(bz_kinfo_past, put(b + 0x268, BZ_PM - 8, 4))
BZ(bz_kinfo_magic, memcpy(b + BZ_SETUP + BZ_KINFO, "LTOP", 4))
BZ(bz_kinfo_total, put(b + BZ_SETUP + BZ_KINFO + 8, BZ_PM, 4))
BZ(bz_kinfo_size, put(b + BZ_SETUP + BZ_KINFO + 4, 4, 4))
BZ(bz_version_past, put(b + 0x20e, BZ_SETUP, 2))
BZ(bz_version_unterminated, memset(b + 0x800, 'x', BZ_SETUP - 0x800))
BZ(bz_version_binary, b[0x803] = 0x01)
BZ(bz_version_empty, b[0x800] = 0)

static const struct bz_vector bz_vectors[] = {
    {"empty file", bz_empty, HV_LINUX_ERR_SIZE},
    {"256 bytes", bz_tiny, HV_LINUX_ERR_BZ_SHORT},
    {"truncated inside the header", bz_trunc_header, HV_LINUX_ERR_BZ_SHORT},
    {"boot flag not 0xAA55", bz_boot_flag, HV_LINUX_ERR_BZ_MAGIC},
    {"no HdrS", bz_hdrs, HV_LINUX_ERR_BZ_MAGIC},
    {"protocol 2.11", bz_old, HV_LINUX_ERR_BZ_VERSION},
    {"no short jump at 0x200", bz_jump, HV_LINUX_ERR_BZ_HEADER},
    {"2.15 header without kernel_info", bz_hdr_short, HV_LINUX_ERR_BZ_HEADER},
    {"header runs into edd_mbr_sig", bz_hdr_long, HV_LINUX_ERR_BZ_HEADER},
    {"setup_sects past the end", bz_sects_overflow,
     HV_LINUX_ERR_BZ_SETUP_SECTS},
    {"setup is the whole file", bz_sects_whole_file,
     HV_LINUX_ERR_BZ_SETUP_SECTS},
    {"syssize 0", bz_syssize0, HV_LINUX_ERR_BZ_SYSSIZE},
    {"syssize past the end", bz_syssize_past, HV_LINUX_ERR_BZ_SYSSIZE},
    {"syssize 0xffffffff", bz_syssize_huge, HV_LINUX_ERR_BZ_SYSSIZE},
    {"zImage (not loaded high)", bz_zimage, HV_LINUX_ERR_BZ_NOT_HIGH},
    {"no XLF_KERNEL_64", bz_no64, HV_LINUX_ERR_BZ_NO64},
    {"kernel_alignment 3 MiB", bz_align_npow2, HV_LINUX_ERR_BZ_ALIGN},
    {"kernel_alignment 2 KiB", bz_align_small, HV_LINUX_ERR_BZ_ALIGN},
    {"kernel_alignment 0", bz_align_zero, HV_LINUX_ERR_BZ_ALIGN},
    {"min_alignment above kernel_alignment", bz_min_align,
     HV_LINUX_ERR_BZ_ALIGN},
    {"pref_address misaligned", bz_pref_unaligned, HV_LINUX_ERR_BZ_ALIGN},
    {"init_size below the kernel", bz_init_small, HV_LINUX_ERR_BZ_INIT_SIZE},
    {"init_size 4 GiB", bz_init_huge, HV_LINUX_ERR_BZ_INIT_SIZE},
    {"pref_address 0", bz_pref_zero, HV_LINUX_ERR_BZ_LOAD_ADDR},
    {"kernel ends past 4 GiB", bz_pref_high, HV_LINUX_ERR_BZ_LOAD_ADDR},
    {"pref_address wraps", bz_pref_wrap, HV_LINUX_ERR_BZ_LOAD_ADDR},
    {"cmdline_size 0", bz_cmdline0, HV_LINUX_ERR_BZ_CMDLINE_SIZE},
    {"payload past the kernel", bz_payload_past, HV_LINUX_ERR_BZ_PAYLOAD},
    {"payload empty", bz_payload_empty, HV_LINUX_ERR_BZ_PAYLOAD},
    {"payload offset wraps", bz_payload_wrap, HV_LINUX_ERR_BZ_PAYLOAD},
    {"kernel_info past the kernel", bz_kinfo_past,
     HV_LINUX_ERR_BZ_KERNEL_INFO},
    {"kernel_info magic", bz_kinfo_magic, HV_LINUX_ERR_BZ_KERNEL_INFO},
    {"kernel_info size_total past the kernel", bz_kinfo_total,
     HV_LINUX_ERR_BZ_KERNEL_INFO},
    {"kernel_info size below its header", bz_kinfo_size,
     HV_LINUX_ERR_BZ_KERNEL_INFO},
    {"kernel_version outside setup", bz_version_past,
     HV_LINUX_ERR_BZ_VERSION_STR},
    {"kernel_version unterminated", bz_version_unterminated,
     HV_LINUX_ERR_BZ_VERSION_STR},
    {"kernel_version not printable", bz_version_binary,
     HV_LINUX_ERR_BZ_VERSION_STR},
    {"kernel_version empty", bz_version_empty, HV_LINUX_ERR_BZ_VERSION_STR},
};

static void test_bz_rejects(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    struct hv_linux_image img;
    for (size_t i = 0; i < sizeof bz_vectors / sizeof bz_vectors[0]; i++) {
        size_t len;
        make_bz(b, &len);
        bz_vectors[i].mutate(b, &len);
        int got = hv_linux_parse_bzimage(b, len, &img);
        if (got != bz_vectors[i].want)
            fail_msg("%s: got %d (%s), want %d (%s)", bz_vectors[i].name, got,
                     hv_linux_strerror(got), bz_vectors[i].want,
                     hv_linux_strerror(bz_vectors[i].want));
        assert_int_equal(img.boot.nsegs, 0); /* nothing half-filled */
    }
}

/* ------------------------------------------------------------ PVH ELF */

#define PVH_TEXT 0x400000u
#define PVH_DATA 0x500000u
#define PVH_ENTRY (PVH_TEXT + 0x10)

/* Three notes, as Linux has them: a Xen note, the PVH entry (an 8-byte
 * _ASM_PTR), a GNU build id (shortened). */
struct pvh_notes {
    uint32_t n1[3];
    char name1[4];
    char desc1[8]; /* "linux\0" padded */
    uint32_t n2[3];
    char name2[4];
    uint8_t desc2[8];
    uint32_t n3[3];
    char name3[4];
    uint8_t desc3[4];
};

struct pvh_img {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[4];
    struct pvh_notes notes;
    uint8_t text[256];
    uint8_t data[64];
    Elf64_Shdr sh[3]; /* null, .shstrtab, .text */
    char shstr[24];
};

static void make_pvh(struct pvh_img *m)
{
    memset(m, 0, sizeof *m);
    memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
    m->eh.e_ident[EI_CLASS] = ELFCLASS64;
    m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    m->eh.e_ident[EI_VERSION] = EV_CURRENT;
    m->eh.e_type = ET_EXEC;
    m->eh.e_machine = EM_X86_64;
    m->eh.e_version = EV_CURRENT;
    m->eh.e_entry = 0xffffffff81000000ull; /* virtual: ignored */
    m->eh.e_phoff = offsetof(struct pvh_img, ph);
    m->eh.e_phentsize = sizeof(Elf64_Phdr);
    m->eh.e_phnum = 4;
    m->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
                            .p_flags = PF_R | PF_X,
                            .p_offset = offsetof(struct pvh_img, text),
                            .p_vaddr = 0xffffffff80400000ull,
                            .p_paddr = PVH_TEXT,
                            .p_filesz = sizeof m->text,
                            .p_memsz = sizeof m->text,
                            .p_align = 0x200000};
    m->ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
                            .p_flags = PF_R | PF_W,
                            .p_offset = offsetof(struct pvh_img, data),
                            .p_paddr = PVH_DATA,
                            .p_filesz = sizeof m->data,
                            .p_memsz = 0x2000};
    m->ph[2] = (Elf64_Phdr){.p_type = PT_NOTE,
                            .p_offset = offsetof(struct pvh_img, notes),
                            .p_filesz = sizeof m->notes,
                            .p_memsz = sizeof m->notes,
                            .p_align = 4};
    m->ph[3] = (Elf64_Phdr){.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W};
    struct pvh_notes *n = &m->notes;
    n->n1[0] = 4, n->n1[1] = 6, n->n1[2] = 6; /* XEN_ELFNOTE_GUEST_OS */
    memcpy(n->name1, "Xen", 4);
    memcpy(n->desc1, "linux", 6);
    n->n2[0] = 4, n->n2[1] = 8, n->n2[2] = HV_PVH_NOTE_TYPE;
    memcpy(n->name2, "Xen", 4);
    put(n->desc2, PVH_ENTRY, 8);
    n->n3[0] = 4, n->n3[1] = 4, n->n3[2] = NT_GNU_BUILD_ID;
    memcpy(n->name3, "GNU", 4);
    memcpy(n->desc3, "\x3b\x43\xfa\xd5", 4);
    memset(m->text, 0x90, sizeof m->text);
    memset(m->data, 0xdd, sizeof m->data);
    m->ph[1].p_vaddr = 0xffffffff80500000ull;
    m->eh.e_shoff = offsetof(struct pvh_img, sh);
    m->eh.e_shentsize = sizeof(Elf64_Shdr);
    m->eh.e_shnum = 3;
    m->eh.e_shstrndx = 1;
    memcpy(m->shstr, "\0.shstrtab\0.text", 17);
    m->sh[1] = (Elf64_Shdr){.sh_name = 1,
                            .sh_type = SHT_STRTAB,
                            .sh_offset = offsetof(struct pvh_img, shstr),
                            .sh_size = sizeof m->shstr};
    m->sh[2] = (Elf64_Shdr){.sh_name = 11,
                            .sh_type = SHT_PROGBITS,
                            .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
                            .sh_addr = 0xffffffff80400000ull,
                            .sh_offset = offsetof(struct pvh_img, text),
                            .sh_size = 200};
}

static void test_pvh_valid(void **state)
{
    (void)state;
    struct pvh_img m;
    struct hv_linux_image img;
    make_pvh(&m);
    assert_int_equal(hv_linux_parse_pvh((uint8_t *)&m, sizeof m, &img),
                     HV_LINUX_OK);
    assert_int_equal(img.boot.kind, FW_LINUX_ENTRY_PVH);
    assert_int_equal(img.boot.entry, PVH_ENTRY);
    assert_int_equal(img.boot.nsegs, 2);
    assert_int_equal(img.boot.segs[0].gpa, PVH_TEXT);
    assert_true(img.boot.segs[0].exec);
    assert_int_equal(img.boot.segs[1].gpa, PVH_DATA);
    assert_int_equal(img.boot.segs[1].memsz, 0x2000);
    assert_false(img.boot.segs[1].exec);
    assert_int_equal(img.boot.text_gpa, PVH_TEXT);
    assert_int_equal(img.boot.text_size, sizeof m.text);
    assert_true(img.boot.text_va == 0xffffffff80400000ull);
    assert_int_equal(img.boot.lock_size, sizeof m.text); /* page, capped */
    assert_int_equal(img.boot.data_gpa, PVH_DATA);
    assert_true(img.boot.data_va == 0xffffffff80500000ull);
    assert_int_equal(img.boot.cmdline_max, 2047);
    /* Without a section table, or without ".text": the whole segment. */
    m.eh.e_shoff = 0, m.eh.e_shnum = 0;
    assert_int_equal(hv_linux_parse_pvh((uint8_t *)&m, sizeof m, &img),
                     HV_LINUX_OK);
    assert_int_equal(img.boot.lock_size, sizeof m.text);
    make_pvh(&m);
    m.shstr[12] = 'x';
    assert_int_equal(hv_linux_parse_pvh((uint8_t *)&m, sizeof m, &img),
                     HV_LINUX_OK);
    assert_int_equal(img.boot.lock_size, sizeof m.text);
    make_pvh(&m);
    assert_int_equal(hv_linux_parse((uint8_t *)&m, sizeof m, &img),
                     HV_LINUX_OK);
    assert_int_equal(img.boot.kind, FW_LINUX_ENTRY_PVH);

    /* i386-style 4-byte PVH note; the GNU note moves up behind it */
    m.notes.n2[1] = 4;
    put(m.notes.desc2, PVH_ENTRY + 4, 4);
    uint8_t *p = m.notes.desc2 + 4;
    put(p, 4, 4);
    put(p + 4, 0, 4);
    put(p + 8, NT_GNU_BUILD_ID, 4);
    memcpy(p + 12, "GNU", 4);
    m.ph[2].p_filesz = (uint64_t)(p + 16 - (uint8_t *)&m.notes);
    assert_int_equal(hv_linux_parse_pvh((uint8_t *)&m, sizeof m, &img),
                     HV_LINUX_OK);
    assert_int_equal(img.boot.entry, PVH_ENTRY + 4);
}

struct pvh_vector {
    const char *name;
    void (*mutate)(struct pvh_img *m, size_t *len);
    int want;
};

#define PV(fn, body)                                                           \
    static void fn(struct pvh_img *m, size_t *len)                             \
    {                                                                          \
        (void)m;                                                               \
        (void)len;                                                             \
        body;                                                                  \
    }
PV(pv_empty, *len = 0)
PV(pv_not_elf, m->eh.e_ident[0] = 'M')
PV(pv_short, *len = 40)
PV(pv_class32, m->eh.e_ident[EI_CLASS] = ELFCLASS32)
PV(pv_msb, m->eh.e_ident[EI_DATA] = ELFDATA2MSB)
PV(pv_version, m->eh.e_version = 2)
PV(pv_dyn, m->eh.e_type = ET_DYN)
PV(pv_i386, m->eh.e_machine = EM_386)
PV(pv_phentsize, m->eh.e_phentsize = 32)
PV(pv_phnum0, m->eh.e_phnum = 0)
PV(pv_phnum_big, m->eh.e_phnum = HV_LINUX_MAX_PHDRS + 1)
PV(pv_phoff_wrap, m->eh.e_phoff = ~0ull - 16)
PV(pv_phdrs_trunc, *len = offsetof(struct pvh_img, ph) + 100)
PV(pv_seg_past, m->ph[0].p_offset = sizeof *m - 8)
PV(pv_seg_wrap, m->ph[0].p_offset = ~0ull)
PV(pv_filesz, m->ph[1].p_memsz = 16)
PV(pv_memsz0, m->ph[0].p_memsz = 0; m->ph[0].p_filesz = 0)
PV(pv_low, m->ph[0].p_paddr = 0x80000)
PV(pv_above_4g, m->ph[1].p_paddr = 0xfffff000ull)
PV(pv_paddr_wrap, m->ph[1].p_paddr = ~0ull - 16)
PV(pv_overlap, m->ph[1].p_paddr = PVH_TEXT + 128)
PV(pv_no_load, m->ph[0].p_type = PT_NULL; m->ph[1].p_type = PT_NULL)
PV(pv_interp, m->ph[3].p_type = PT_INTERP)
PV(pv_dynamic, m->ph[3].p_type = PT_DYNAMIC)
PV(pv_note_past, m->ph[2].p_offset = sizeof *m - 8)
PV(pv_note_namesz, m->notes.n1[0] = 0xfffffff0u)
PV(pv_note_descsz, m->notes.n3[1] = 8)
PV(pv_note_header_cut, m->ph[2].p_filesz = 8)
PV(pv_note_misaligned, m->ph[2].p_offset += 2)
PV(pv_note_palign, m->ph[2].p_align = 16)
PV(pv_pvh_type, m->notes.n2[2] = HV_PVH_NOTE_TYPE + 1)
PV(pv_pvh_name, memcpy(m->notes.name2, "Xem", 4))
PV(pv_pvh_no_notes, m->ph[2].p_type = PT_NULL)
PV(pv_pvh_short, m->notes.n2[1] = 2)
PV(pv_pvh_above_4g, put(m->notes.desc2, 0x100000000ull, 8))
PV(pv_pvh_dup, memcpy(m->notes.name3, "Xen", 4);
   m->notes.n3[2] = HV_PVH_NOTE_TYPE; put(m->notes.desc3, PVH_ENTRY, 4))
PV(pv_entry_data, put(m->notes.desc2, PVH_DATA, 8))
PV(pv_entry_past, put(m->notes.desc2, PVH_TEXT + sizeof m->text, 8))
PV(pv_entry_nx, m->ph[0].p_flags = PF_R)
PV(pv_sh_entsize, m->eh.e_shentsize = 32)
PV(pv_sh_num_big, m->eh.e_shnum = HV_LINUX_MAX_SHDRS + 1)
PV(pv_sh_past, m->eh.e_shoff = sizeof *m - 64)
PV(pv_sh_strndx, m->eh.e_shstrndx = 3)
PV(pv_sh_str_type, m->sh[1].sh_type = SHT_PROGBITS)
PV(pv_sh_str_past, m->sh[1].sh_size = sizeof *m)
PV(pv_text_addr, m->sh[2].sh_addr += 0x1000)
PV(pv_text_noexec, m->sh[2].sh_flags = SHF_ALLOC)
PV(pv_text_big, m->sh[2].sh_size = sizeof m->text + 1)
PV(pv_text_empty, m->sh[2].sh_size = 0)

static const struct pvh_vector pvh_vectors[] = {
    {"empty file", pv_empty, HV_LINUX_ERR_SIZE},
    {"not an ELF file", pv_not_elf, HV_LINUX_ERR_FORMAT},
    {"shorter than an ELF header", pv_short, HV_LINUX_ERR_ELF_SHORT},
    {"ELFCLASS32", pv_class32, HV_LINUX_ERR_ELF_CLASS},
    {"big-endian", pv_msb, HV_LINUX_ERR_ELF_CLASS},
    {"e_version 2", pv_version, HV_LINUX_ERR_ELF_CLASS},
    {"ET_DYN", pv_dyn, HV_LINUX_ERR_ELF_TYPE},
    {"EM_386", pv_i386, HV_LINUX_ERR_ELF_TYPE},
    {"wrong phentsize", pv_phentsize, HV_LINUX_ERR_ELF_PHDRS},
    {"no program headers", pv_phnum0, HV_LINUX_ERR_ELF_PHDRS},
    {"too many program headers", pv_phnum_big, HV_LINUX_ERR_ELF_PHDRS},
    {"phoff wraps", pv_phoff_wrap, HV_LINUX_ERR_ELF_PHDRS},
    {"program headers truncated", pv_phdrs_trunc, HV_LINUX_ERR_ELF_PHDRS},
    {"segment past the end", pv_seg_past, HV_LINUX_ERR_SEG_FILE},
    {"segment offset wraps", pv_seg_wrap, HV_LINUX_ERR_SEG_FILE},
    {"filesz > memsz", pv_filesz, HV_LINUX_ERR_SEG_SIZE},
    {"empty segment", pv_memsz0, HV_LINUX_ERR_SEG_SIZE},
    {"segment below 1 MiB", pv_low, HV_LINUX_ERR_SEG_ADDR},
    {"segment past 4 GiB", pv_above_4g, HV_LINUX_ERR_SEG_ADDR},
    {"segment address wraps", pv_paddr_wrap, HV_LINUX_ERR_SEG_ADDR},
    {"overlapping segments", pv_overlap, HV_LINUX_ERR_SEG_OVERLAP},
    {"no PT_LOAD", pv_no_load, HV_LINUX_ERR_SEG_COUNT},
    {"PT_INTERP", pv_interp, HV_LINUX_ERR_DYNAMIC},
    {"PT_DYNAMIC", pv_dynamic, HV_LINUX_ERR_DYNAMIC},
    {"note segment past the end", pv_note_past, HV_LINUX_ERR_NOTE},
    {"note name runs past its segment", pv_note_namesz, HV_LINUX_ERR_NOTE},
    {"note desc runs past its segment", pv_note_descsz, HV_LINUX_ERR_NOTE},
    {"note header cut short", pv_note_header_cut, HV_LINUX_ERR_NOTE},
    {"note segment misaligned", pv_note_misaligned, HV_LINUX_ERR_NOTE_ALIGN},
    {"note p_align 16", pv_note_palign, HV_LINUX_ERR_NOTE_ALIGN},
    {"PVH note type missing", pv_pvh_type, HV_LINUX_ERR_PVH_MISSING},
    {"PVH note owner not Xen", pv_pvh_name, HV_LINUX_ERR_PVH_MISSING},
    {"no PT_NOTE at all", pv_pvh_no_notes, HV_LINUX_ERR_PVH_MISSING},
    {"PVH note 2 bytes", pv_pvh_short, HV_LINUX_ERR_PVH_SIZE},
    {"PVH entry above 4 GiB", pv_pvh_above_4g, HV_LINUX_ERR_PVH_SIZE},
    {"two PVH notes", pv_pvh_dup, HV_LINUX_ERR_PVH_DUP},
    {"PVH entry in data", pv_entry_data, HV_LINUX_ERR_PVH_ENTRY},
    {"PVH entry past the text", pv_entry_past, HV_LINUX_ERR_PVH_ENTRY},
    {"PVH entry in non-executable text", pv_entry_nx,
     HV_LINUX_ERR_PVH_ENTRY},
    {"section header size 32", pv_sh_entsize, HV_LINUX_ERR_ELF_SHDRS},
    {"too many sections", pv_sh_num_big, HV_LINUX_ERR_ELF_SHDRS},
    {"section table past the end", pv_sh_past, HV_LINUX_ERR_ELF_SHDRS},
    {"section names index out of range", pv_sh_strndx,
     HV_LINUX_ERR_ELF_SHDRS},
    {"section names not a string table", pv_sh_str_type,
     HV_LINUX_ERR_ELF_SHDRS},
    {"section names past the end", pv_sh_str_past, HV_LINUX_ERR_ELF_SHDRS},
    {".text not at the text segment", pv_text_addr, HV_LINUX_ERR_ELF_SHDRS},
    {".text not executable", pv_text_noexec, HV_LINUX_ERR_ELF_SHDRS},
    {".text larger than its segment", pv_text_big, HV_LINUX_ERR_ELF_SHDRS},
    {".text empty", pv_text_empty, HV_LINUX_ERR_ELF_SHDRS},
};

static void test_pvh_rejects(void **state)
{
    (void)state;
    struct pvh_img m;
    struct hv_linux_image img;
    for (size_t i = 0; i < sizeof pvh_vectors / sizeof pvh_vectors[0]; i++) {
        size_t len = sizeof m;
        make_pvh(&m);
        pvh_vectors[i].mutate(&m, &len);
        int got = hv_linux_parse_pvh((uint8_t *)&m, len, &img);
        if (got != pvh_vectors[i].want)
            fail_msg("%s: got %d (%s), want %d (%s)", pvh_vectors[i].name,
                     got, hv_linux_strerror(got), pvh_vectors[i].want,
                     hv_linux_strerror(pvh_vectors[i].want));
        assert_int_equal(img.boot.nsegs, 0);
    }
}

static void test_parse_dispatch(void **state)
{
    (void)state;
    struct hv_linux_image img;
    static uint8_t junk[4096];
    memset(junk, 0x4d, sizeof junk);
    assert_int_equal(hv_linux_parse(junk, sizeof junk, &img),
                     HV_LINUX_ERR_FORMAT);
    assert_int_equal(hv_linux_parse(junk, 3, &img), HV_LINUX_ERR_FORMAT);
    assert_int_equal(hv_linux_parse(junk, 0, &img), HV_LINUX_ERR_SIZE);
    assert_int_equal(
        hv_linux_parse(junk, (size_t)HV_LINUX_MAX_SIZE + 1, &img),
        HV_LINUX_ERR_SIZE);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e >= HV_LINUX_ERR_ELF_SHDRS; e--) {
        const char *m = hv_linux_strerror(e);
        assert_non_null(m);
        assert_string_not_equal(m, "unknown kernel image error");
        for (int f = 0; f > e; f--)
            assert_string_not_equal(m, hv_linux_strerror(f));
    }
    assert_string_equal(hv_linux_strerror(HV_LINUX_ERR_ELF_SHDRS - 1),
                        "unknown kernel image error");
    assert_string_equal(hv_linux_strerror(1), "unknown kernel image error");
    for (int e = 0; e >= FW_LINUX_ERR_ACPI; e--)
        assert_string_not_equal(fw_linux_strerror(e),
                                "unknown Linux boot error");
    assert_string_equal(fw_linux_strerror(FW_LINUX_ERR_ACPI - 1),
                        "unknown Linux boot error");
}

/* ------------------------------------------------------------ e820 */

/* Sorted, non-overlapping, adjacent entries of one type merged, all
 * types known. */
static void check_e820(const struct fw_linux_e820 *e, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        assert_true(e[i].size > 0);
        assert_true(e[i].type == FW_E820_RAM ||
                    e[i].type == FW_E820_RESERVED);
        if (i == 0)
            continue;
        assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
        if (e[i - 1].addr + e[i - 1].size == e[i].addr)
            assert_int_not_equal(e[i - 1].type, e[i].type);
    }
}

static void test_e820_default(void **state)
{
    (void)state;
    struct fw_linux_config cfg = {.mem_size = 256 * MIB, .ncpus = 2};
    struct fw_linux_e820 e[FW_LINUX_E820_MAX];
    unsigned n;
    assert_int_equal(fw_linux_e820(&cfg, e, FW_LINUX_E820_MAX, &n),
                     FW_LINUX_OK);
    check_e820(e, n);
    const struct fw_linux_e820 want[] = {
        {0, 0x9fc00, FW_E820_RAM},
        {0x9fc00, 0x400, FW_E820_RESERVED},
        {0xe0000, 0x20000, FW_E820_RESERVED},
        {0x100000, 255 * MIB, FW_E820_RAM},
    };
    assert_int_equal(n, 4);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(e[i].addr, want[i].addr);
        assert_int_equal(e[i].size, want[i].size);
        assert_int_equal(e[i].type, want[i].type);
    }
}

static void test_e820_reserved(void **state)
{
    (void)state;
    struct fw_linux_config cfg = {
        .mem_size = 64 * MIB,
        .ncpus = 1,
        .nreserved = 4,
        .reserved = {{8 * MIB, 1 * MIB},      /* splits RAM */
                     {8 * MIB + 0x1000, 2 * MIB}, /* overlaps: merged */
                     {63 * MIB, 4 * MIB},     /* straddles the end */
                     {0xfec00000, 0x1000}},   /* MMIO above RAM */
    };
    struct fw_linux_e820 e[FW_LINUX_E820_MAX];
    unsigned n;
    assert_int_equal(fw_linux_e820(&cfg, e, FW_LINUX_E820_MAX, &n),
                     FW_LINUX_OK);
    check_e820(e, n);
    const struct fw_linux_e820 want[] = {
        {0, 0x9fc00, FW_E820_RAM},
        {0x9fc00, 0x400, FW_E820_RESERVED},
        {0xe0000, 0x20000, FW_E820_RESERVED},
        {0x100000, 7 * MIB, FW_E820_RAM},
        {8 * MIB, 2 * MIB + 0x1000, FW_E820_RESERVED},
        {10 * MIB + 0x1000, 53 * MIB - 0x1000, FW_E820_RAM},
        {63 * MIB, 4 * MIB, FW_E820_RESERVED},
        {0xfec00000, 0x1000, FW_E820_RESERVED},
    };
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(e[i].addr, want[i].addr);
        assert_int_equal(e[i].size, want[i].size);
        assert_int_equal(e[i].type, want[i].type);
    }
    assert_int_equal(fw_linux_e820(&cfg, e, 3, &n), FW_LINUX_ERR_E820);
}

struct cfg_vector {
    const char *name;
    struct fw_linux_config cfg;
    int want;
};

static const struct cfg_vector cfg_vectors[] = {
    {"RAM below 16 MiB", {.mem_size = 8 * MIB, .ncpus = 1},
     FW_LINUX_ERR_MEM_SIZE},
    {"RAM above 3 GiB", {.mem_size = 3072 * MIB + 0x1000, .ncpus = 1},
     FW_LINUX_ERR_MEM_SIZE},
    {"RAM not page aligned", {.mem_size = 64 * MIB + 1, .ncpus = 1},
     FW_LINUX_ERR_MEM_SIZE},
    {"no vCPU", {.mem_size = 64 * MIB, .ncpus = 0}, FW_LINUX_ERR_NCPUS},
    {"65 vCPUs", {.mem_size = 64 * MIB, .ncpus = 65}, FW_LINUX_ERR_NCPUS},
    {"reserved below 1 MiB",
     {.mem_size = 64 * MIB, .ncpus = 1, .nreserved = 1,
      .reserved = {{0x80000, 0x1000}}},
     FW_LINUX_ERR_RESERVED},
    {"reserved empty",
     {.mem_size = 64 * MIB, .ncpus = 1, .nreserved = 1,
      .reserved = {{8 * MIB, 0}}},
     FW_LINUX_ERR_RESERVED},
    {"reserved wraps",
     {.mem_size = 64 * MIB, .ncpus = 1, .nreserved = 1,
      .reserved = {{~0ull - 0xfff, 0x2000}}},
     FW_LINUX_ERR_RESERVED},
    {"five reserved ranges",
     {.mem_size = 64 * MIB, .ncpus = 1, .nreserved = 5},
     FW_LINUX_ERR_RESERVED},
};

static void test_config_rejects(void **state)
{
    (void)state;
    struct fw_linux_e820 e[FW_LINUX_E820_MAX];
    unsigned n;
    for (size_t i = 0; i < sizeof cfg_vectors / sizeof cfg_vectors[0]; i++) {
        int got = fw_linux_e820(&cfg_vectors[i].cfg, e, FW_LINUX_E820_MAX, &n);
        if (got != cfg_vectors[i].want)
            fail_msg("%s: got %d (%s), want %d", cfg_vectors[i].name, got,
                     fw_linux_strerror(got), cfg_vectors[i].want);
        assert_int_equal(n, 0);
    }
}

/* ------------------------------------------------------------ ACPI */

/* A table at gpa inside the buffer that maps base: its signature, length
 * inside the buffer, checksum zero. */
static const uint8_t *table(const uint8_t *buf, size_t size, uint64_t base,
                            uint64_t gpa, const char *sig)
{
    assert_true(gpa >= base && gpa - base + 36 <= size);
    const uint8_t *t = buf + (gpa - base);
    assert_memory_equal(t, sig, 4);
    uint32_t len = (uint32_t)get(t + 4, 4);
    assert_true(len >= 36 && gpa - base + len <= size);
    assert_int_equal(fw_acpi_sum(t, len), 0);
    assert_memory_equal(t + 10, "HVPTCH", 6);
    return t;
}

static void check_acpi(const uint8_t *buf, size_t size, uint64_t base,
                       unsigned ncpus)
{
    /* RSDP: revision 2, both checksums, points at the XSDT. */
    const uint8_t *r = buf;
    assert_memory_equal(r, "RSD PTR ", 8);
    assert_int_equal(r[15], 2);
    assert_int_equal(fw_acpi_sum(r, 20), 0);
    assert_int_equal(get(r + 20, 4), 36);
    assert_int_equal(fw_acpi_sum(r, 36), 0);
    const uint8_t *x = table(buf, size, base, get(r + 24, 8), "XSDT");
    assert_int_equal(get(x + 4, 4), 36 + 16);
    const uint8_t *f = table(buf, size, base, get(x + 36, 8), "FACP");
    const uint8_t *m = table(buf, size, base, get(x + 44, 8), "APIC");

    /* FADT: revision 6, hardware-reduced, reset and sleep registers. */
    assert_int_equal(get(f + 4, 4), 276);
    assert_int_equal(f[8], 6);
    uint32_t flags = (uint32_t)get(f + 112, 4);
    assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
    assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
    assert_int_equal(get(f + 109, 2) & (1u << 1), 0); /* no 8042 */
    assert_int_equal(get(f + 48, 4), 0);              /* no SMI_CMD */
    assert_int_equal(get(f + 76, 4), 0);              /* no PM timer */
    assert_int_equal(f[116], 1);                      /* I/O space */
    assert_int_equal(f[117], 8);
    assert_int_equal(get(f + 120, 8), FW_LINUX_PORT_RESET);
    assert_int_equal(f[128], FW_LINUX_RESET_VALUE);
    assert_int_equal(f[244], 1);
    assert_int_equal(get(f + 248, 8), FW_LINUX_PORT_SLEEP_CTL);
    assert_int_equal(f[256], 1);
    assert_int_equal(get(f + 260, 8), FW_LINUX_PORT_SLEEP_STS);
    const uint8_t *d = table(buf, size, base, get(f + 140, 8), "DSDT");
    uint32_t dlen = (uint32_t)get(d + 4, 4);
    assert_non_null(memmem(d, dlen, "\x0c\x41\xd0\x05\x01", 5)); /* PNP0501 */
    assert_non_null(memmem(d, dlen, "_S5_\x12", 5));
    assert_non_null(memmem(d, dlen, "\x47\x01\xf8\x03\xf8\x03", 6));
    assert_non_null(memmem(d, dlen, "\x22\x10\x00", 3)); /* IRQ 4 */
    /* pvpanic: Device (PEVT), _HID "QEMU0001", IO 0x505, 1 byte. */
    assert_non_null(memmem(d, dlen, "\x5b\x82\x27PEVT\x08_HID\x0dQEMU0001", 20));
    assert_non_null(memmem(d, dlen, "\x47\x01\x05\x05\x05\x05\x01\x01\x79", 9));

    /* MADT: one enabled LAPIC per vCPU, IDs 0 .. n-1; the IOAPIC; IRQ 0
     * -> GSI 2; entries tile the table exactly. */
    uint32_t mlen = (uint32_t)get(m + 4, 4);
    assert_int_equal(get(m + 36, 4), FW_LINUX_LAPIC_GPA);
    unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
    uint32_t off = 44;
    while (off < mlen) {
        const uint8_t *e = m + off;
        assert_true(off + 2 <= mlen && e[1] >= 2 && off + e[1] <= mlen);
        switch (e[0]) {
        case 0:
            assert_int_equal(e[1], 8);
            assert_int_equal(e[3], lapics); /* APIC ID */
            assert_int_equal(get(e + 4, 4), 1);
            lapics++;
            break;
        case 1:
            assert_int_equal(e[1], 12);
            assert_int_equal(get(e + 4, 4), FW_LINUX_IOAPIC_GPA);
            assert_int_equal(get(e + 8, 4), 0);
            ioapics++;
            break;
        case 2:
            assert_int_equal(e[1], 10);
            assert_int_equal(e[3], 0);
            assert_int_equal(get(e + 4, 4), 2);
            isos++;
            break;
        case 4:
            assert_int_equal(e[1], 6);
            assert_int_equal(e[5], 1);
            nmis++;
            break;
        default:
            fail_msg("unexpected MADT entry type %u", e[0]);
        }
        off += e[1];
    }
    assert_int_equal(off, mlen);
    assert_int_equal(lapics, ncpus);
    assert_int_equal(ioapics, 1);
    assert_int_equal(isos, 1);
    assert_int_equal(nmis, 1);
}

static void test_acpi(void **state)
{
    (void)state;
    static uint8_t buf[FW_LINUX_ACPI_SIZE];
    struct fw_acpi_info info;
    const unsigned counts[] = {1, 2, 8, FW_LINUX_MAX_CPUS};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        memset(buf, 0xee, sizeof buf);
        assert_int_equal(fw_acpi_build(buf, sizeof buf, FW_LINUX_ACPI_GPA,
                                       counts[i], &info),
                         FW_LINUX_OK);
        assert_int_equal(info.rsdp, FW_LINUX_ACPI_GPA);
        assert_true(info.size < 2048);
        check_acpi(buf, info.size, FW_LINUX_ACPI_GPA, counts[i]);
    }
    assert_int_equal(fw_acpi_build(buf, sizeof buf, FW_LINUX_ACPI_GPA, 0,
                                   &info),
                     FW_LINUX_ERR_NCPUS);
    assert_int_equal(fw_acpi_build(buf, sizeof buf, FW_LINUX_ACPI_GPA,
                                   FW_LINUX_MAX_CPUS + 1, &info),
                     FW_LINUX_ERR_NCPUS);
    assert_int_equal(fw_acpi_build(buf, 256, FW_LINUX_ACPI_GPA, 2, &info),
                     FW_LINUX_ERR_ACPI);
    assert_int_equal(fw_acpi_build(buf, sizeof buf, FW_LINUX_ACPI_GPA + 8, 2,
                                   &info),
                     FW_LINUX_ERR_ACPI);
}

/* ------------------------------------------------------------ setup */

static uint8_t *new_ram(void)
{
    uint8_t *ram = malloc(RAM_SIZE);
    assert_non_null(ram);
    memset(ram, 0xa5, RAM_SIZE); /* prove what setup zeroes */
    return ram;
}

static void check_e820_table(const uint8_t *t, unsigned stride,
                             const struct fw_linux_layout *lay)
{
    for (unsigned i = 0; i < lay->ne820; i++) {
        assert_int_equal(get(t + i * stride, 8), lay->e820[i].addr);
        assert_int_equal(get(t + i * stride + 8, 8), lay->e820[i].size);
        assert_int_equal(get(t + i * stride + 16, 4), lay->e820[i].type);
    }
    check_e820(lay->e820, lay->ne820);
}

static void check_firmware(const uint8_t *ram, unsigned ncpus)
{
    check_acpi(ram + FW_LINUX_ACPI_GPA, FW_LINUX_ACPI_SIZE, FW_LINUX_ACPI_GPA,
               ncpus);
    /* reset vector: mov dx, 0xcf9; mov al, 6; out dx, al */
    assert_memory_equal(ram + FW_LINUX_RESET_GPA, "\xba\xf9\x0c\xb0\x06\xee",
                        6);
    /* nothing of the 0xa5 fill left in the low MiB but what setup wrote */
    assert_int_equal(ram[0], 0);
    assert_int_equal(ram[0x9fc00], 0);
}

static void test_setup_bzimage(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    static uint8_t initrd[8192 + 5];
    size_t len;
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    struct fw_linux_cpu cpu;
    const char *cmdline = "console=ttyS0 quiet hvpatch.unit=1";
    uint8_t *ram = new_ram();
    make_bz(b, &len);
    for (size_t i = 0; i < sizeof initrd; i++)
        initrd[i] = (uint8_t)(i * 7);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    struct fw_linux_config cfg = {.mem_size = RAM_SIZE,
                                  .ncpus = 2,
                                  .cmdline = cmdline,
                                  .initrd_size = sizeof initrd};
    assert_int_equal(
        fw_linux_setup(ram, &cfg, &img.boot, b, len, initrd, &lay),
        FW_LINUX_OK);

    /* boot_params at the offsets of zero-page.rst and boot.rst */
    const uint8_t *zp = ram + FW_LINUX_BOOT_GPA;
    assert_int_equal(lay.boot_gpa, FW_LINUX_BOOT_GPA);
    assert_int_equal(zp[0x1f1], BZ_SETUP / 512 - 1); /* setup header copy */
    assert_memory_equal(zp + 0x202, "HdrS", 4);
    assert_int_equal(get(zp + 0x206, 2), 0x020f);
    assert_int_equal(get(zp + 0x1fe, 2), 0xaa55);
    assert_int_equal(get(zp + 0x258, 8), BZ_PREF);
    assert_int_equal(get(zp + 0x238, 4), 2047);
    assert_int_equal(zp[0x210], 0xff);        /* type_of_loader */
    assert_int_equal(zp[0x211], 0x01);        /* loadflags: LOADED_HIGH */
    assert_int_equal(get(zp + 0x214, 4), BZ_PREF);
    assert_int_equal(get(zp + 0x228, 4), FW_LINUX_CMDLINE_GPA);
    assert_int_equal(get(zp + 0x218, 4), lay.initrd_gpa);
    assert_int_equal(get(zp + 0x21c, 4), sizeof initrd);
    assert_int_equal(get(zp + 0x0c0, 4), 0); /* ext_ramdisk_image */
    assert_int_equal(get(zp + 0x0c8, 4), 0); /* ext_cmd_line_ptr */
    assert_int_equal(get(zp + 0x250, 8), 0); /* setup_data */
    assert_int_equal(get(zp + 0x070, 8), FW_LINUX_ACPI_GPA);
    assert_int_equal(zp[0x1ef], 0);          /* sentinel */
    assert_int_equal(zp[0x1e8], lay.ne820);  /* e820_entries */
    assert_int_equal(lay.ne820, 4);
    check_e820_table(zp + 0x2d0, 20, &lay);
    assert_int_equal(zp[0x2d0 + lay.ne820 * 20], 0);
    assert_int_equal(get(zp + 0x290, 4), 0); /* edd_mbr_sig untouched */

    /* command line: copied, NUL-terminated, within cmdline_size */
    assert_int_equal(lay.cmdline_len, strlen(cmdline));
    assert_string_equal((const char *)ram + FW_LINUX_CMDLINE_GPA, cmdline);
    assert_true(lay.cmdline_len <= get(zp + 0x238, 4));

    /* kernel and initrd */
    assert_memory_equal(ram + BZ_PREF, b + BZ_SETUP, BZ_PM);
    assert_int_equal(ram[BZ_PREF + BZ_PM], 0);
    assert_int_equal(ram[BZ_PREF + BZ_INIT - 1], 0);
    assert_int_equal(lay.kernel_start, BZ_PREF);
    assert_int_equal(lay.kernel_end, BZ_PREF + BZ_INIT);
    assert_int_equal(lay.initrd_gpa % 4096, 0);
    assert_true(lay.initrd_gpa >= lay.kernel_end);
    assert_true(lay.initrd_gpa + sizeof initrd <= RAM_SIZE);
    assert_true(lay.initrd_gpa + sizeof initrd > RAM_SIZE - 8192 - 4096);
    assert_memory_equal(ram + lay.initrd_gpa, initrd, sizeof initrd);

    /* GDT: __BOOT_CS 64-bit code, __BOOT_DS data; identity page tables */
    check_firmware(ram, 2);
    const uint8_t *gdt = ram + FW_LINUX_GDT_GPA;
    assert_int_equal(get(gdt + 0x10, 8), 0x00af9b000000ffffull);
    assert_int_equal(get(gdt + 0x18, 8), 0x00cf93000000ffffull);
    const uint8_t *pt = ram + FW_LINUX_PT_GPA;
    uint64_t pdpt = get(pt, 8) & ~0xfffull;
    assert_int_equal(pdpt, FW_LINUX_PT_GPA + 0x1000);
    uint64_t pd = get(ram + pdpt, 8) & ~0xfffull;
    uint64_t pde = get(ram + pd + 8 * (BZ_PREF >> 21), 8);
    assert_int_equal(pde, BZ_PREF | 0x83); /* P, W, 2 MiB: identity */
    uint64_t pd3 = get(ram + pdpt + 24, 8) & ~0xfffull;
    assert_int_equal(get(ram + pd3 + 8 * 511, 8), 0xffe00083ull);

    /* the BSP: 64-bit entry at load address + 0x200 */
    fw_linux_cpu_state(&lay, &cpu);
    assert_int_equal(cpu.fw.rip, BZ_PREF + 0x200);
    assert_int_equal(cpu.fw.rsi, FW_LINUX_BOOT_GPA);
    assert_int_equal(cpu.fw.cr3, FW_LINUX_PT_GPA);
    assert_int_equal(cpu.fw.cr0 & 0x80000001u, 0x80000001u);
    assert_int_equal(cpu.fw.cr4, 0x20);
    assert_int_equal(cpu.fw.efer, 0x500);
    assert_int_equal(cpu.fw.rflags, 2);
    assert_int_equal(cpu.fw.cs.selector, 0x10);
    assert_int_equal(cpu.fw.cs.l, 1);
    assert_int_equal(cpu.fw.cs.db, 0);
    assert_int_equal(cpu.fw.ds.selector, 0x18);
    assert_int_equal(cpu.fw.gdt_base, FW_LINUX_GDT_GPA);
    assert_int_equal(cpu.fw.gdt_limit, 31);
    free(ram);
}

static void test_setup_cmdline_limit(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    size_t len;
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    uint8_t *ram = new_ram();
    make_bz(b, &len);
    put(b + 0x238, 16, 4); /* cmdline_size */
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    struct fw_linux_config cfg = {.mem_size = RAM_SIZE, .ncpus = 1,
                                  .cmdline = "0123456789abcdefg"};
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, b, len, NULL, &lay),
                     FW_LINUX_ERR_CMDLINE);
    assert_int_equal(ram[FW_LINUX_CMDLINE_GPA], 0xa5); /* nothing written */
    cfg.cmdline = "0123456789abcdef";
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, b, len, NULL, &lay),
                     FW_LINUX_OK);
    assert_int_equal(ram[FW_LINUX_CMDLINE_GPA + 16], 0);
    assert_int_equal(get(ram + FW_LINUX_BOOT_GPA + 0x218, 4), 0);
    assert_int_equal(get(ram + FW_LINUX_BOOT_GPA + 0x21c, 4), 0);
    cfg.cmdline = NULL; /* empty command line: still a valid pointer */
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, b, len, NULL, &lay),
                     FW_LINUX_OK);
    assert_int_equal(ram[FW_LINUX_CMDLINE_GPA], 0);
    free(ram);
}

static void test_setup_pvh(void **state)
{
    (void)state;
    struct pvh_img m;
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    struct fw_linux_cpu cpu;
    static uint8_t initrd[5000];
    uint8_t *ram = new_ram();
    memset(initrd, 0x17, sizeof initrd);
    make_pvh(&m);
    assert_int_equal(hv_linux_parse_pvh((uint8_t *)&m, sizeof m, &img),
                     HV_LINUX_OK);
    struct fw_linux_config cfg = {.mem_size = RAM_SIZE,
                                  .ncpus = 4,
                                  .cmdline = "console=ttyS0",
                                  .initrd_size = sizeof initrd};
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, (uint8_t *)&m,
                                    sizeof m, initrd, &lay),
                     FW_LINUX_OK);

    /* hvm_start_info (start_info.h), version 1 */
    const uint8_t *si = ram + FW_LINUX_BOOT_GPA;
    assert_int_equal(get(si, 4), 0x336ec578);
    assert_int_equal(get(si + 4, 4), 1);
    assert_int_equal(get(si + 12, 4), 1); /* nr_modules */
    uint64_t modlist = get(si + 16, 8);
    assert_int_equal(get(si + 24, 8), FW_LINUX_CMDLINE_GPA);
    assert_int_equal(get(si + 32, 8), FW_LINUX_ACPI_GPA);
    uint64_t memmap = get(si + 40, 8);
    assert_int_equal(get(si + 48, 4), lay.ne820);
    assert_int_equal(get(si + 52, 4), 0);
    assert_int_equal(get(ram + modlist, 8), lay.initrd_gpa);
    assert_int_equal(get(ram + modlist + 8, 8), sizeof initrd);
    assert_int_equal(get(ram + modlist + 16, 8), 0);
    check_e820_table(ram + memmap, 24, &lay);
    assert_string_equal((const char *)ram + FW_LINUX_CMDLINE_GPA,
                        "console=ttyS0");

    /* segments at their physical addresses, bss zeroed */
    assert_memory_equal(ram + PVH_TEXT, m.text, sizeof m.text);
    assert_memory_equal(ram + PVH_DATA, m.data, sizeof m.data);
    assert_int_equal(ram[PVH_DATA + sizeof m.data], 0);
    assert_int_equal(ram[PVH_DATA + 0x2000 - 1], 0);
    assert_int_equal(ram[PVH_DATA + 0x2000], 0xa5);
    assert_memory_equal(ram + lay.initrd_gpa, initrd, sizeof initrd);
    assert_int_equal(lay.text_gpa, PVH_TEXT);
    assert_int_equal(lay.text_size, sizeof m.text);

    /* firmware: ACPI for 4 vCPUs, a 32-bit GDT, no page tables */
    check_firmware(ram, 4);
    assert_int_equal(get(ram + FW_LINUX_GDT_GPA + 0x10, 8),
                     0x00cf9b000000ffffull);
    assert_int_equal(get(ram + FW_LINUX_PT_GPA, 8), 0);

    /* the BSP: 32-bit protected mode, paging off, ebx = start info */
    fw_linux_cpu_state(&lay, &cpu);
    assert_int_equal(cpu.fw.rip, PVH_ENTRY);
    assert_int_equal(cpu.rbx, FW_LINUX_BOOT_GPA);
    assert_int_equal(cpu.fw.cr0, 0x11);
    assert_int_equal(cpu.fw.cr3, 0);
    assert_int_equal(cpu.fw.cr4, 0);
    assert_int_equal(cpu.fw.efer, 0);
    assert_int_equal(cpu.fw.rflags & 0x20300, 0); /* VM, IF, TF */
    assert_int_equal(cpu.fw.cs.db, 1);
    assert_int_equal(cpu.fw.cs.l, 0);
    assert_int_equal(cpu.fw.cs.type, 0xb);
    assert_int_equal(cpu.fw.ds.type, 0x3);

    /* no initrd: no module */
    cfg.initrd_size = 0;
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, (uint8_t *)&m,
                                    sizeof m, NULL, &lay),
                     FW_LINUX_OK);
    assert_int_equal(get(si + 12, 4), 0);
    assert_int_equal(get(si + 16, 8), 0);
    free(ram);
}

/* The firmware area alone (what a verifier measures as PCR 0) is byte for
 * byte what setup writes, for both entry paths; it depends only on the
 * entry path and the vCPU count, and fails without writing. */
static void test_fw_area(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    size_t len;
    struct pvh_img m;
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    uint8_t *ram = new_ram();
    uint8_t *fw = malloc(FW_LINUX_FW_SIZE);
    assert_non_null(fw);
    struct fw_linux_config cfg = {.mem_size = RAM_SIZE, .ncpus = 3,
                                  .cmdline = "console=ttyS0"};
    make_bz(b, &len);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, b, len, NULL, &lay),
                     FW_LINUX_OK);
    memset(fw, 0xa5, FW_LINUX_FW_SIZE);
    assert_int_equal(fw_linux_fw_area(fw, FW_LINUX_ENTRY_BZIMAGE64, 3),
                     FW_LINUX_OK);
    assert_memory_equal(fw, ram + FW_LINUX_FW_GPA, FW_LINUX_FW_SIZE);
    assert_int_equal(lay.fw_gpa, FW_LINUX_FW_GPA);
    assert_int_equal(lay.fw_size, FW_LINUX_FW_SIZE);

    make_pvh(&m);
    assert_int_equal(hv_linux_parse_pvh((uint8_t *)&m, sizeof m, &img),
                     HV_LINUX_OK);
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, (uint8_t *)&m,
                                    sizeof m, NULL, &lay),
                     FW_LINUX_OK);
    assert_int_equal(fw_linux_fw_area(fw, FW_LINUX_ENTRY_PVH, 3),
                     FW_LINUX_OK);
    assert_memory_equal(fw, ram + FW_LINUX_FW_GPA, FW_LINUX_FW_SIZE);

    memset(fw, 0xa5, FW_LINUX_FW_SIZE);
    assert_int_equal(fw_linux_fw_area(fw, (enum fw_linux_entry)0, 3),
                     FW_LINUX_ERR_KERNEL);
    assert_int_equal(fw_linux_fw_area(fw, FW_LINUX_ENTRY_PVH, 0),
                     FW_LINUX_ERR_NCPUS);
    assert_int_equal(fw[0], 0xa5); /* nothing written */
    free(fw);
    free(ram);
}

/* The initrd goes as high as the kernel allows, below the kernel if the
 * kernel sits at the top, and setup fails cleanly when it cannot. */
static void test_setup_initrd_placement(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    size_t len;
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    make_bz(b, &len);
    put(b + 0x22c, 0x7fffff, 4); /* initrd_addr_max: below 8 MiB */
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    struct fw_linux_config cfg = {.mem_size = RAM_SIZE, .ncpus = 1,
                                  .initrd_size = 0x10000};
    assert_int_equal(fw_linux_plan(&cfg, &img.boot, &lay), FW_LINUX_OK);
    assert_int_equal(lay.initrd_gpa, 0x800000 - 0x10000);

    /* kernel at the top of RAM: initrd below it */
    make_bz(b, &len);
    put(b + 0x258, RAM_SIZE - 2 * MIB, 8);
    put(b + 0x260, 2 * MIB, 4);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    assert_int_equal(fw_linux_plan(&cfg, &img.boot, &lay), FW_LINUX_OK);
    assert_int_equal(lay.initrd_gpa, RAM_SIZE - 2 * MIB - 0x10000);

    /* no room */
    cfg.initrd_size = RAM_SIZE;
    assert_int_equal(fw_linux_plan(&cfg, &img.boot, &lay),
                     FW_LINUX_ERR_INITRD);
    assert_int_equal(lay.ne820, 0); /* layout cleared */

    /* a reserved range at the top pushes the initrd below it */
    cfg.initrd_size = 0x10000;
    make_bz(b, &len);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    cfg.nreserved = 1;
    cfg.reserved[0] = (struct fw_linux_range){RAM_SIZE - MIB, MIB};
    assert_int_equal(fw_linux_plan(&cfg, &img.boot, &lay), FW_LINUX_OK);
    assert_int_equal(lay.initrd_gpa, RAM_SIZE - MIB - 0x10000);
}

static void test_setup_kernel_rejects(void **state)
{
    (void)state;
    static uint8_t b[BZ_LEN];
    size_t len;
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    uint8_t *ram = new_ram();
    make_bz(b, &len);
    struct fw_linux_config cfg = {.mem_size = RAM_SIZE, .ncpus = 1};

    /* the kernel does not fit below the end of RAM */
    put(b + 0x258, 14 * MIB, 8);
    put(b + 0x260, 4 * MIB, 4);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, b, len, NULL, &lay),
                     FW_LINUX_ERR_KERNEL_RAM);
    /* ... or lies in a range the monitor reserved */
    make_bz(b, &len);
    assert_int_equal(hv_linux_parse_bzimage(b, len, &img), HV_LINUX_OK);
    cfg.nreserved = 1;
    cfg.reserved[0] = (struct fw_linux_range){BZ_PREF + MIB - 0x1000, 0x1000};
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, b, len, NULL, &lay),
                     FW_LINUX_ERR_KERNEL_RAM);
    cfg.nreserved = 0;

    /* descriptions the parsers never produce */
    struct fw_linux_kernel k = img.boot;
    k.entry = BZ_PREF + BZ_PM; /* past the file bytes */
    assert_int_equal(fw_linux_plan(&cfg, &k, &lay), FW_LINUX_ERR_KERNEL);
    k = img.boot;
    k.segs[0].exec = 0;
    assert_int_equal(fw_linux_plan(&cfg, &k, &lay), FW_LINUX_ERR_KERNEL);
    k = img.boot;
    k.setup_header_len = 4;
    assert_int_equal(fw_linux_plan(&cfg, &k, &lay), FW_LINUX_ERR_KERNEL);
    k = img.boot;
    k.kind = 0;
    assert_int_equal(fw_linux_plan(&cfg, &k, &lay), FW_LINUX_ERR_KERNEL);
    k = img.boot;
    k.nsegs = 2;
    k.segs[1] = k.segs[0];
    k.segs[1].gpa += 0x1000; /* overlaps */
    assert_int_equal(fw_linux_plan(&cfg, &k, &lay), FW_LINUX_ERR_KERNEL);
    k = img.boot;
    k.segs[0].filesz = k.segs[0].memsz + 1;
    assert_int_equal(fw_linux_plan(&cfg, &k, &lay), FW_LINUX_ERR_KERNEL);
    /* segment bytes outside the file handed to setup */
    assert_int_equal(
        fw_linux_setup(ram, &cfg, &img.boot, b, BZ_LEN - 1, NULL, &lay),
        FW_LINUX_ERR_KERNEL);
    /* an initrd size without its bytes */
    cfg.initrd_size = 4096;
    assert_int_equal(fw_linux_setup(ram, &cfg, &img.boot, b, len, NULL, &lay),
                     FW_LINUX_ERR_INITRD);
    /* none of the failures wrote anything */
    for (size_t i = 0; i < FW_LINUX_HIGH_GPA; i++)
        if (ram[i] != 0xa5)
            fail_msg("byte 0x%zx written by a failed setup", i);
    assert_int_equal(ram[BZ_PREF], 0xa5);
    free(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bz_valid),
        cmocka_unit_test(test_bz_variants),
        cmocka_unit_test(test_bz_rejects),
        cmocka_unit_test(test_pvh_valid),
        cmocka_unit_test(test_pvh_rejects),
        cmocka_unit_test(test_parse_dispatch),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_e820_default),
        cmocka_unit_test(test_e820_reserved),
        cmocka_unit_test(test_config_rejects),
        cmocka_unit_test(test_acpi),
        cmocka_unit_test(test_setup_bzimage),
        cmocka_unit_test(test_setup_cmdline_limit),
        cmocka_unit_test(test_setup_pvh),
        cmocka_unit_test(test_setup_initrd_placement),
        cmocka_unit_test(test_fw_area),
        cmocka_unit_test(test_setup_kernel_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

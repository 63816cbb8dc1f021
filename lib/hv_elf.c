/* hv_elf.c: strict parser and loader of demo-style guest images (ELF64).
 *
 * The image is untrusted input: every field is range-checked before use and
 * the parser only reads through bounds-checked little-endian accessors. */
#include <elf.h>
#include <string.h>

#include "lib/hv_abi.h"
#include "lib/hv_bytes.h"
#include "lib/hv_elf.h"

const struct hv_elf_region hv_img_regions[HV_IMG_NREGIONS] = {
    [HV_IMG_KTEXT] = {HV_PROT_KTEXT, HV_PROT_PART_SIZE, 0, "kernel text"},
    [HV_IMG_UTEXT] = {HV_PROT_UTEXT, HV_PROT_PART_SIZE, 0, "user text"},
    [HV_IMG_DATA] = {HV_KDATA_GPA,
                     HV_UDATA_GPA + HV_UDATA_SIZE - HV_KDATA_GPA, 1, "data"},
};

static const char *const hv_elf_msgs[] = {
    [0] = "ok",
    [1] = "image is empty or larger than 16 MiB",
    [2] = "not an ELF file (bad magic)",
    [3] = "not a 64-bit little-endian ELF version 1 image",
    [4] = "not a static x86-64 executable (ET_EXEC, EM_X86_64)",
    [5] = "program header table malformed",
    [6] = "a segment's bytes lie outside the file",
    [7] = "a segment has filesz > memsz or is empty",
    [8] = "a segment is not inside one allowed guest memory region",
    [9] = "a writable segment lies in a read-only (protected) region",
    [10] = "two segments overlap",
    [11] = "no loadable segment, or too many",
    [12] = "image is dynamically linked (PT_INTERP or PT_DYNAMIC)",
    [13] = "entry point is not in executable code of the kernel text",
    [14] = "ELF header truncated",
};

const char *hv_elf_strerror(int err)
{
    unsigned i = (unsigned)-err;
    if (err > 0 || i >= sizeof hv_elf_msgs / sizeof hv_elf_msgs[0])
        return "unknown image error";
    return hv_elf_msgs[i];
}



static int check_header(const uint8_t *b, size_t len, uint64_t *phoff,
                        unsigned *phnum)
{
    if (len < SELFMAG || memcmp(b, ELFMAG, SELFMAG) != 0)
        return HV_ELF_ERR_MAGIC;
    if (len < sizeof(Elf64_Ehdr))
        return HV_ELF_ERR_SHORT;
    if (b[EI_CLASS] != ELFCLASS64 || b[EI_DATA] != ELFDATA2LSB ||
        b[EI_VERSION] != EV_CURRENT || hv_rd_le(b + 20, 4) != EV_CURRENT)
        return HV_ELF_ERR_CLASS;
    if (hv_rd_le(b + 16, 2) != ET_EXEC || hv_rd_le(b + 18, 2) != EM_X86_64)
        return HV_ELF_ERR_TYPE;
    *phoff = hv_rd_le(b + 32, 8);
    uint64_t phentsize = hv_rd_le(b + 54, 2);
    *phnum = (unsigned)hv_rd_le(b + 56, 2);
    if (phentsize != sizeof(Elf64_Phdr) || *phnum == 0 ||
        *phnum > HV_ELF_MAX_PHDRS ||
        !hv_in_bounds(*phoff, (uint64_t)*phnum * sizeof(Elf64_Phdr), len))
        return HV_ELF_ERR_PHDRS;
    return HV_ELF_OK;
}

static int find_region(const struct hv_elf_region *r, unsigned n,
                       uint64_t paddr, uint64_t memsz)
{
    for (unsigned i = 0; i < n; i++)
        if (paddr >= r[i].base && paddr - r[i].base <= r[i].size &&
            memsz <= r[i].size - (paddr - r[i].base))
            return (int)i;
    return -1;
}

static int add_segment(const uint8_t *ph, size_t len,
                       const struct hv_elf_region *regions, unsigned nregions,
                       struct hv_elf_image *out)
{
    struct hv_elf_seg s = {
        .offset = hv_rd_le(ph + 8, 8),
        .paddr = hv_rd_le(ph + 24, 8),
        .filesz = hv_rd_le(ph + 32, 8),
        .memsz = hv_rd_le(ph + 40, 8),
        .flags = (uint32_t)hv_rd_le(ph + 4, 4),
    };
    if (!hv_in_bounds(s.offset, s.filesz, len))
        return HV_ELF_ERR_SEG_FILE;
    if (s.memsz == 0 || s.filesz > s.memsz)
        return HV_ELF_ERR_SEG_SIZE;
    int r = find_region(regions, nregions, s.paddr, s.memsz);
    if (r < 0)
        return HV_ELF_ERR_SEG_REGION;
    if ((s.flags & PF_W) && !regions[r].writable_ok)
        return HV_ELF_ERR_SEG_WRITE;
    for (unsigned i = 0; i < out->nsegs; i++) {
        const struct hv_elf_seg *o = &out->segs[i];
        if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
            return HV_ELF_ERR_SEG_OVERLAP;
    }
    if (out->nsegs == HV_ELF_MAX_SEGS)
        return HV_ELF_ERR_SEG_COUNT;
    s.region = (unsigned)r;
    out->segs[out->nsegs++] = s;
    return HV_ELF_OK;
}

static int check_entry(const struct hv_elf_image *img,
                       const struct hv_elf_region *regions,
                       unsigned entry_region)
{
    const struct hv_elf_region *er = &regions[entry_region];
    for (unsigned i = 0; i < img->nsegs; i++) {
        const struct hv_elf_seg *s = &img->segs[i];
        if (s->region == entry_region && (s->flags & PF_X) &&
            img->entry >= s->paddr && img->entry - s->paddr < s->filesz &&
            img->entry - er->base < er->size)
            return HV_ELF_OK;
    }
    return HV_ELF_ERR_ENTRY;
}

int hv_elf_parse(const uint8_t *buf, size_t len,
                 const struct hv_elf_region *regions, unsigned nregions,
                 unsigned entry_region, struct hv_elf_image *out)
{
    uint64_t phoff;
    unsigned phnum;
    memset(out, 0, sizeof *out);
    if (len == 0 || len > HV_ELF_MAX_SIZE)
        return HV_ELF_ERR_SIZE;
    if (nregions > HV_ELF_MAX_REGIONS || entry_region >= nregions)
        return HV_ELF_ERR_SEG_REGION;
    int ret = check_header(buf, len, &phoff, &phnum);
    if (ret != HV_ELF_OK)
        return ret;
    out->entry = hv_rd_le(buf + 24, 8);
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = buf + phoff + (uint64_t)i * sizeof(Elf64_Phdr);
        uint32_t type = (uint32_t)hv_rd_le(ph, 4);
        if (type == PT_INTERP || type == PT_DYNAMIC)
            return HV_ELF_ERR_DYNAMIC;
        if (type != PT_LOAD)
            continue; /* PT_NOTE, PT_GNU_STACK, ...: nothing to load */
        ret = add_segment(ph, len, regions, nregions, out);
        if (ret != HV_ELF_OK)
            return ret;
    }
    if (out->nsegs == 0)
        return HV_ELF_ERR_SEG_COUNT;
    return check_entry(out, regions, entry_region);
}

void hv_elf_load(const struct hv_elf_image *img, const uint8_t *buf,
                 const struct hv_elf_region *regions, uint8_t *const dst[])
{
    for (unsigned i = 0; i < img->nsegs; i++) {
        const struct hv_elf_seg *s = &img->segs[i];
        if (!dst[s->region])
            continue;
        uint8_t *d = dst[s->region] + (s->paddr - regions[s->region].base);
        memcpy(d, buf + s->offset, s->filesz);
        memset(d + s->filesz, 0, s->memsz - s->filesz);
    }
}

int hv_img_parse(const uint8_t *buf, size_t len, struct hv_elf_image *out)
{
    return hv_elf_parse(buf, len, hv_img_regions, HV_IMG_NREGIONS,
                        HV_IMG_KTEXT, out);
}

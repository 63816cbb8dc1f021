/* hv_elf.h: strict parser and loader of demo-style guest images (ELF64). */
#ifndef HV_ELF_H
#define HV_ELF_H

#include <stddef.h>
#include <stdint.h>

#define HV_ELF_MAX_SIZE (16u << 20) /* largest image file accepted */
#define HV_ELF_MAX_PHDRS 16u
#define HV_ELF_MAX_SEGS 8u /* PT_LOAD segments */
#define HV_ELF_MAX_REGIONS 4u

/* Stable error codes; hv_elf_strerror() names each. */
enum hv_elf_err {
    HV_ELF_OK = 0,
    HV_ELF_ERR_SIZE = -1,       /* empty, or larger than HV_ELF_MAX_SIZE */
    HV_ELF_ERR_MAGIC = -2,      /* not an ELF file */
    HV_ELF_ERR_CLASS = -3,      /* not ELF64 little-endian version 1 */
    HV_ELF_ERR_TYPE = -4,       /* not a static x86-64 executable */
    HV_ELF_ERR_PHDRS = -5,      /* program header table malformed */
    HV_ELF_ERR_SEG_FILE = -6,   /* segment's bytes lie outside the file */
    HV_ELF_ERR_SEG_SIZE = -7,   /* filesz > memsz, or empty segment */
    HV_ELF_ERR_SEG_REGION = -8, /* segment not inside one allowed region */
    HV_ELF_ERR_SEG_WRITE = -9,  /* writable segment in a read-only region */
    HV_ELF_ERR_SEG_OVERLAP = -10,
    HV_ELF_ERR_SEG_COUNT = -11, /* no PT_LOAD, or more than HV_ELF_MAX_SEGS */
    HV_ELF_ERR_DYNAMIC = -12,   /* PT_INTERP or PT_DYNAMIC present */
    HV_ELF_ERR_ENTRY = -13,     /* entry not in an executable segment of
                                   the entry region */
    HV_ELF_ERR_SHORT = -14,     /* file shorter than an ELF header */
};

/* A guest-physical range segments may be loaded into. */
struct hv_elf_region {
    uint64_t base;
    uint64_t size;
    int writable_ok; /* 0: PF_W segments are rejected here */
    const char *name;
};

struct hv_elf_seg {
    uint64_t paddr;
    uint64_t offset;
    uint64_t filesz;
    uint64_t memsz;
    uint32_t flags; /* PF_R | PF_W | PF_X */
    unsigned region;
};

struct hv_elf_image {
    uint64_t entry;
    unsigned nsegs;
    struct hv_elf_seg segs[HV_ELF_MAX_SEGS];
};

/* Parses buf[0..len) and checks every segment against regions. The entry
 * point must lie in an executable segment inside regions[entry_region].
 * Returns HV_ELF_OK and fills *out, or a negative hv_elf_err. Never reads
 * outside buf. */
int hv_elf_parse(const uint8_t *buf, size_t len,
                 const struct hv_elf_region *regions, unsigned nregions,
                 unsigned entry_region, struct hv_elf_image *out);

/* Copies each segment of a parsed image into dst[region] + (paddr - base)
 * and zero-fills memsz beyond filesz. dst[i] maps regions[i]; segments of
 * a region whose dst is NULL are skipped (each process loads its part). */
void hv_elf_load(const struct hv_elf_image *img, const uint8_t *buf,
                 const struct hv_elf_region *regions, uint8_t *const dst[]);

/* The layout of a demo-style image (lib/hv_abi.h): where its segments may
 * go. Patch areas are not loadable: only hot patches fill them. */
enum { HV_IMG_KTEXT, HV_IMG_UTEXT, HV_IMG_DATA, HV_IMG_NREGIONS };
extern const struct hv_elf_region hv_img_regions[HV_IMG_NREGIONS];

/* hv_elf_parse() against hv_img_regions, entry in kernel text. */
int hv_img_parse(const uint8_t *buf, size_t len, struct hv_elf_image *out);

/* A short message for an hv_elf_err. */
const char *hv_elf_strerror(int err);

#endif /* HV_ELF_H */

/* hv_linux.h: strict parsers of Linux kernel files: a bzImage (64-bit boot
 * protocol) and an uncompressed ELF vmlinux with a PVH entry note.
 *
 * The kernel file is untrusted input: sizes are limited, every offset and
 * length is checked before use, and each rejection has its own stable
 * error code. The result is a struct fw_linux_kernel, which
 * firmware/fw_linux.h turns into guest memory.
 *
 * Which to boot: the PVH vmlinux skips real mode, decompression and KASLR,
 * so it runs the fewest ring-0 instructions (the only practical path on
 * kvm_pvm, where guest ring 0 is emulated) and leaves the kernel text at a
 * known physical address, where the monitor can lock it. The bzImage is
 * what Debian ships and signs; its 64-bit entry works on VT-x and AMD-V.
 * hv_linux_parse() accepts either. */
#ifndef HV_LINUX_H
#define HV_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/fw_linux.h"

#define HV_LINUX_MAX_SIZE (256u << 20) /* largest kernel file accepted */
#define HV_LINUX_MAX_INIT (1u << 30)   /* largest bzImage init_size */
#define HV_LINUX_MAX_PHDRS 32u
#define HV_LINUX_MAX_SHDRS 256u
#define HV_LINUX_VERSION_MAX 256u /* kernel_version string, with NUL */

/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst). */
#define HV_BZ_PROTOCOL_MIN 0x020cu  /* 2.12: xloadflags, 64-bit entry */
#define HV_BZ_HDR_MAGIC 0x53726448u /* "HdrS" */
#define HV_BZ_BOOT_FLAG 0xaa55u
#define HV_BZ_LOADED_HIGH 0x01u   /* loadflags */
#define HV_BZ_XLF_KERNEL_64 0x01u /* xloadflags */
#define HV_BZ_ENTRY64_OFFSET 0x200u
/* Xen ELF note giving the 32-bit PVH entry (xen/include/public/elfnote.h). */
#define HV_PVH_NOTE_TYPE 18u /* XEN_ELFNOTE_PHYS32_ENTRY */

/* Stable error codes; hv_linux_strerror() names each. */
enum hv_linux_err {
    HV_LINUX_OK = 0,
    HV_LINUX_ERR_SIZE = -1,   /* empty, or larger than HV_LINUX_MAX_SIZE */
    HV_LINUX_ERR_FORMAT = -2, /* neither a bzImage nor an ELF file */
    /* bzImage */
    HV_LINUX_ERR_BZ_SHORT = -3,         /* shorter than the setup header */
    HV_LINUX_ERR_BZ_MAGIC = -4,         /* no 0xAA55 boot flag or "HdrS" */
    HV_LINUX_ERR_BZ_VERSION = -5,       /* boot protocol older than 2.12 */
    HV_LINUX_ERR_BZ_HEADER = -6,        /* setup header length impossible */
    HV_LINUX_ERR_BZ_SETUP_SECTS = -7,   /* setup code runs past the file */
    HV_LINUX_ERR_BZ_SYSSIZE = -8,       /* protected-mode kernel empty or
                                           past the end of the file */
    HV_LINUX_ERR_BZ_NOT_HIGH = -9,      /* not loaded high (a zImage) */
    HV_LINUX_ERR_BZ_NO64 = -10,         /* no 64-bit entry (XLF_KERNEL_64) */
    HV_LINUX_ERR_BZ_ALIGN = -11,        /* kernel_alignment or pref_address
                                           misaligned */
    HV_LINUX_ERR_BZ_LOAD_ADDR = -12,    /* pref_address below 1 MiB, or the
                                           kernel would end above 4 GiB */
    HV_LINUX_ERR_BZ_INIT_SIZE = -13,    /* init_size below the kernel's size
                                           or above HV_LINUX_MAX_INIT */
    HV_LINUX_ERR_BZ_CMDLINE_SIZE = -14, /* cmdline_size is 0 */
    HV_LINUX_ERR_BZ_PAYLOAD = -15,      /* payload outside the kernel */
    HV_LINUX_ERR_BZ_KERNEL_INFO = -16,  /* kernel_info (2.15+) malformed */
    HV_LINUX_ERR_BZ_VERSION_STR = -17,  /* kernel_version string malformed */
    /* ELF vmlinux with a PVH note */
    HV_LINUX_ERR_ELF_SHORT = -18,   /* shorter than an ELF header */
    HV_LINUX_ERR_ELF_CLASS = -19,   /* not ELF64 little-endian version 1 */
    HV_LINUX_ERR_ELF_TYPE = -20,    /* not an x86-64 executable */
    HV_LINUX_ERR_ELF_PHDRS = -21,   /* program header table malformed */
    HV_LINUX_ERR_SEG_FILE = -22,    /* segment bytes outside the file */
    HV_LINUX_ERR_SEG_SIZE = -23,    /* filesz > memsz, or empty */
    HV_LINUX_ERR_SEG_ADDR = -24,    /* segment below 1 MiB or past 4 GiB */
    HV_LINUX_ERR_SEG_OVERLAP = -25, /* two segments overlap */
    HV_LINUX_ERR_SEG_COUNT = -26,   /* no PT_LOAD, or too many */
    HV_LINUX_ERR_DYNAMIC = -27,     /* PT_INTERP or PT_DYNAMIC present */
    HV_LINUX_ERR_NOTE = -28,        /* a note runs past its segment */
    HV_LINUX_ERR_NOTE_ALIGN = -29,  /* PT_NOTE misaligned */
    HV_LINUX_ERR_PVH_MISSING = -30, /* no XEN_ELFNOTE_PHYS32_ENTRY note */
    HV_LINUX_ERR_PVH_SIZE = -31,    /* PVH note not 4 or 8 bytes, or its
                                       entry is not a 32-bit address */
    HV_LINUX_ERR_PVH_DUP = -32,     /* more than one PVH note */
    HV_LINUX_ERR_PVH_ENTRY = -33,   /* entry not in executable file bytes */
    HV_LINUX_ERR_ELF_SHDRS = -34,   /* section table or its names malformed,
                                       or ".text" not at the text segment */
};

/* What a parser found, for the loader (boot) and for people (the rest). */
struct hv_linux_image {
    struct fw_linux_kernel boot;
    uint16_t protocol;         /* bzImage boot protocol, e.g. 0x020f */
    uint16_t xloadflags;       /* bzImage */
    uint32_t kernel_alignment; /* bzImage */
    uint64_t pref_address;     /* bzImage load address */
    uint32_t init_size;        /* bzImage */
    int relocatable;           /* bzImage; loaded at pref_address either way */
    char version[HV_LINUX_VERSION_MAX]; /* bzImage kernel_version, or "" */
};

/* Parses a bzImage in buf[0..len). Returns HV_LINUX_OK and fills *out
 * (one segment: the protected-mode kernel at pref_address, claiming
 * init_size bytes; entry at +0x200), or a negative hv_linux_err. Never
 * reads outside buf. */
int hv_linux_parse_bzimage(const uint8_t *buf, size_t len,
                           struct hv_linux_image *out);

/* Parses an ELF64 x86-64 vmlinux with a XEN_ELFNOTE_PHYS32_ENTRY note in
 * buf[0..len). Returns HV_LINUX_OK and fills *out (PT_LOAD segments at
 * their physical addresses, entry from the note, text = the executable
 * segment holding it), or a negative hv_linux_err. Never reads outside
 * buf. */
int hv_linux_parse_pvh(const uint8_t *buf, size_t len,
                       struct hv_linux_image *out);

/* ELF magic: hv_linux_parse_pvh(); otherwise hv_linux_parse_bzimage(). */
int hv_linux_parse(const uint8_t *buf, size_t len, struct hv_linux_image *out);

/* A short message for an hv_linux_err. */
const char *hv_linux_strerror(int err);

#endif /* HV_LINUX_H */

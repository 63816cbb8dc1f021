/* linux_boot_tool.c: test-only driver of the Linux boot protocol library
 * (firmware/hv_linux.h, firmware/fw_linux.h) for tests/integration/
 * linux_boot_protocol.bats.
 *
 * Usage: linux_boot_tool info KERNEL
 *            parse KERNEL (bzImage or PVH vmlinux), print key=value lines
 *        linux_boot_tool qemu KERNEL OUTDIR [--initrd F] [--append S]
 *                                           [--mem MIB] [--cpus N]
 *            lay out guest memory with fw_linux_setup() and write it as
 *            raw blobs plus a handoff block for linux_qemu_stub.S; print
 *            the QEMU -device arguments that load them, one per line
 * Exit codes: 0 ok, 1 usage or I/O error, 2 the library rejected the input
 * (the message names the error). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/fw_linux.h"
#include "firmware/hv_linux.h"

#define HANDOFF 0x6000u /* see linux_qemu_stub.S */
#define QEMU_ROM_ALIAS 0xf0000u

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "linux_boot_tool: %s: %s\n", path, strerror(errno));
        goto out;
    }
    buf = malloc(n ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "linux_boot_tool: %s: short read\n", path);
        free(buf);
        buf = NULL;
        goto out;
    }
    *len = (size_t)n;
out:
    if (f)
        fclose(f);
    return buf;
}

static int spill(const char *dir, const char *name, const uint8_t *p, size_t n,
                 uint64_t gpa)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "linux_boot_tool: %s: %s\n", path, strerror(errno));
        return -1;
    }
    printf("-device\nloader,file=%s,addr=0x%" PRIx64 ",force-raw=on\n", path,
           gpa);
    return 0;
}

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int cmd_info(const char *path)
{
    size_t len;
    struct hv_linux_image img;
    uint8_t *buf = slurp(path, &len);
    if (!buf)
        return 1;
    int err = hv_linux_parse(buf, len, &img);
    free(buf);
    if (err != HV_LINUX_OK) {
        printf("error=%d\nmessage=%s\n", err, hv_linux_strerror(err));
        return 2;
    }
    const struct fw_linux_kernel *k = &img.boot;
    printf("kind=%s\n", k->kind == FW_LINUX_ENTRY_PVH ? "pvh" : "bzimage64");
    printf("entry=0x%" PRIx64 "\n", k->entry);
    printf("segments=%u\n", k->nsegs);
    for (unsigned i = 0; i < k->nsegs; i++)
        printf("segment%u=0x%" PRIx64 "+0x%" PRIx64 " file=0x%" PRIx64
               " exec=%d\n",
               i, k->segs[i].gpa, k->segs[i].memsz, k->segs[i].filesz,
               k->segs[i].exec);
    printf("text=0x%" PRIx64 "+0x%" PRIx64 "\n", k->text_gpa, k->text_size);
    printf("cmdline_max=%u\n", k->cmdline_max);
    if (k->kind == FW_LINUX_ENTRY_BZIMAGE64) {
        printf("protocol=%u.%u\n", img.protocol >> 8, img.protocol & 0xff);
        printf("xloadflags=0x%x\n", img.xloadflags);
        printf("pref_address=0x%" PRIx64 "\n", img.pref_address);
        printf("kernel_alignment=0x%x\n", img.kernel_alignment);
        printf("init_size=0x%x\n", img.init_size);
        printf("relocatable=%d\n", img.relocatable);
        printf("version=%s\n", img.version);
    }
    return 0;
}

struct qemu_args {
    const char *kernel, *outdir, *initrd, *append;
    unsigned mem_mib, cpus;
};

static int write_handoff(uint8_t *ram, const struct fw_linux_layout *lay)
{
    struct fw_linux_cpu st;
    fw_linux_cpu_state(lay, &st);
    if (st.fw.cs.selector != 0x10 || st.fw.ds.selector != 0x18) {
        fprintf(stderr, "linux_boot_tool: stub assumes CS 0x10, DS 0x18\n");
        return -1;
    }
    uint8_t *h = ram + HANDOFF;
    memset(h, 0, 80);
    put(h, lay->kind, 4);
    put(h + 8, st.fw.rip, 8);
    put(h + 16, st.fw.rsi, 8);
    put(h + 24, st.rbx, 8);
    put(h + 32, st.fw.cr3, 8);
    put(h + 40, st.fw.cr0, 8);
    put(h + 48, st.fw.cr4, 8);
    put(h + 56, st.fw.efer, 8);
    put(h + 64, st.fw.gdt_limit, 2);
    put(h + 66, st.fw.gdt_base, 4);
    return 0;
}

static int cmd_qemu(const struct qemu_args *a)
{
    size_t klen, ilen = 0;
    uint8_t *kbuf = NULL, *ibuf = NULL, *ram = NULL;
    struct hv_linux_image img;
    struct fw_linux_layout lay;
    int ret = 1, err;

    kbuf = slurp(a->kernel, &klen);
    if (!kbuf || (a->initrd && !(ibuf = slurp(a->initrd, &ilen))))
        goto cleanup;
    struct fw_linux_config cfg = {
        .mem_size = (uint64_t)a->mem_mib << 20,
        .ncpus = a->cpus,
        .cmdline = a->append,
        .initrd_size = ilen,
    };
    ram = calloc(1, cfg.mem_size);
    if (!ram) {
        fprintf(stderr, "linux_boot_tool: out of memory\n");
        goto cleanup;
    }
    ret = 2;
    err = hv_linux_parse(kbuf, klen, &img);
    if (err != HV_LINUX_OK) {
        fprintf(stderr, "linux_boot_tool: %s: %s\n", a->kernel,
                hv_linux_strerror(err));
        goto cleanup;
    }
    err = fw_linux_setup(ram, &cfg, &img.boot, kbuf, klen, ibuf, &lay);
    if (err != FW_LINUX_OK) {
        fprintf(stderr, "linux_boot_tool: %s\n", fw_linux_strerror(err));
        goto cleanup;
    }
    ret = 1;
    if (write_handoff(ram, &lay) != 0)
        goto cleanup;
    /* Only what holds data: low memory up to 0xf0000, where QEMU maps
     * the stub's ROM (a loader would overwrite it; the stub's reset path
     * stands in for the firmware's reset vector there), each segment's
     * file bytes, the initrd. QEMU's RAM starts zeroed like a memfd. */
    if (spill(a->outdir, "low.bin", ram, QEMU_ROM_ALIAS, 0) != 0)
        goto cleanup;
    for (unsigned i = 0; i < img.boot.nsegs; i++) {
        const struct fw_linux_seg *s = &img.boot.segs[i];
        char name[32];
        snprintf(name, sizeof name, "segment%u.bin", i);
        if (spill(a->outdir, name, ram + s->gpa, s->filesz, s->gpa) != 0)
            goto cleanup;
    }
    if (lay.initrd_size && spill(a->outdir, "initrd.bin", ram + lay.initrd_gpa,
                                 lay.initrd_size, lay.initrd_gpa) != 0)
        goto cleanup;
    fprintf(stderr,
            "linux_boot_tool: %s entry 0x%" PRIx64 ", kernel 0x%" PRIx64
            "-0x%" PRIx64 ", initrd 0x%" PRIx64 "+0x%" PRIx64 ", %u e820 "
            "entries, RSDP 0x%" PRIx64 "\n",
            lay.kind == FW_LINUX_ENTRY_PVH ? "PVH" : "bzImage64", lay.entry,
            lay.kernel_start, lay.kernel_end, lay.initrd_gpa, lay.initrd_size,
            lay.ne820, lay.rsdp_gpa);
    ret = 0;
cleanup:
    free(kbuf);
    free(ibuf);
    free(ram);
    return ret;
}

static int usage(void)
{
    fprintf(stderr, "usage: linux_boot_tool info KERNEL\n"
                    "       linux_boot_tool qemu KERNEL OUTDIR [--initrd F] "
                    "[--append S] [--mem MIB] [--cpus N]\n");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "info") == 0)
        return cmd_info(argv[2]);
    if (argc < 4 || strcmp(argv[1], "qemu") != 0)
        return usage();
    struct qemu_args a = {
        .kernel = argv[2], .outdir = argv[3], .mem_mib = 256, .cpus = 2};
    for (int i = 4; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--initrd") == 0)
            a.initrd = argv[i + 1];
        else if (strcmp(argv[i], "--append") == 0)
            a.append = argv[i + 1];
        else if (strcmp(argv[i], "--mem") == 0)
            a.mem_mib = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--cpus") == 0)
            a.cpus = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else
            return usage();
    }
    return cmd_qemu(&a);
}
